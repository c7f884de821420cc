/** Inputs for the predict tests: files that are not usable images, each in its own way, and simple good photos. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** A tiny PNG whose header claims the given size; its pixel data is a few bytes (a decompression bomb's shape). */
export function pngClaimingSize(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

/** A dark rounded shape (a "garment") on a light page, as a JPEG or PNG photo. */
export async function simplePhoto(format: 'jpeg' | 'png' | 'webp' | 'gif', width = 320, height = 240): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="#f2efe8"/>
    <rect x="${width * 0.3}" y="${height * 0.15}" width="${width * 0.35}" height="${height * 0.7}" rx="12" fill="#283c6e"/>
  </svg>`;
  return sharp(Buffer.from(svg)).toFormat(format).toBuffer();
}

/** A copy of `bytes` with the span [from, to) (fractions of its length) overwritten by a byte pattern. */
function garble(bytes: Buffer, from: number, to: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = Math.floor(out.length * from); i < Math.floor(out.length * to); i++) out[i] = (i * 37) & 0xff;
  return out;
}

/**
 * Writes, into `dir`: empty.jpg, text.jpg (text with an image name), truncated.jpg (a JPEG cut in
 * half), corrupt.jpg (a tenth of its data overwritten), huge.png (claims 100000x100000 pixels) and
 * folder.jpg (a directory). Returns their paths and that of missing.jpg, which is not written.
 */
export async function writeBadFiles(dir: string): Promise<string[]> {
  const jpeg = await sharp({ create: { width: 160, height: 120, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
  const files: Record<string, Buffer> = {
    'empty.jpg': Buffer.alloc(0),
    'text.jpg': Buffer.from('this is not a picture\n'),
    'truncated.jpg': jpeg.subarray(0, Math.floor(jpeg.length / 2)),
    'corrupt.jpg': garble(jpeg, 0.4, 0.5),
    'huge.png': pngClaimingSize(100_000, 100_000),
  };
  for (const [name, bytes] of Object.entries(files)) await fs.writeFile(path.join(dir, name), bytes);
  await fs.mkdir(path.join(dir, 'folder.jpg'), { recursive: true });
  return [...Object.keys(files), 'folder.jpg', 'missing.jpg'].map((f) => path.join(dir, f));
}

/** Garment-like SVG shapes of different sizes, places and colours, for photos that give different frames and answers. */
export const GARMENT_SHAPES = [
  '<rect x="60" y="30" width="100" height="160" rx="10" fill="#283c6e"/>',
  '<rect x="20" y="90" width="180" height="60" rx="20" fill="#202020"/>',
  '<path d="M60 40 L160 40 L190 90 L160 100 L160 190 L60 190 L60 100 L30 90 Z" fill="#7a1f1f"/>',
  '<rect x="85" y="20" width="25" height="180" fill="#334"/><rect x="115" y="20" width="25" height="180" fill="#334"/>',
  '<ellipse cx="112" cy="140" rx="95" ry="35" fill="#111"/><rect x="130" y="60" width="60" height="90" fill="#111"/>',
  '<path d="M112 20 L190 200 L34 200 Z" fill="#2b6b3a"/>',
] as const;
