/** Writing preprocessed frames as PNGs, so a user can see what the model saw. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { makeDirs } from '../util/atomic.js';

/** A frame's values in [0,1] as 8-bit grey levels. */
export function frameBytes(pixels: Float32Array, size: number): Uint8Array {
  const bytes = new Uint8Array(size * size);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, pixels[i])) * 255);
  return bytes;
}

/** Grey PNG bytes of a size x size frame in [0,1], optionally enlarged (nearest neighbour keeps the pixels visible). */
export async function framePng(pixels: Float32Array, size: number, scale = 1): Promise<Buffer> {
  const bytes = frameBytes(pixels, size);
  let image = sharp(bytes, { raw: { width: size, height: size, channels: 1 } });
  if (scale > 1) image = image.resize(size * scale, size * scale, { kernel: 'nearest' });
  return image.png().toBuffer();
}

/** A file stem for each input that is unique within one batch (`shirt`, `shirt-2`, ...). */
export function uniqueStems(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((name) => {
    const base = path.basename(name).replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_') || 'image';
    let stem = base;
    for (let k = 2; used.has(stem); k++) stem = `${base}-${k}`;
    used.add(stem);
    return stem;
  });
}

/** Writes `<stem>.png` (28x28, exactly the model's input) and `<stem>.x8.png` (enlarged for viewing). */
export async function savePreprocessed(dir: string, stem: string, pixels: Float32Array, size: number): Promise<string[]> {
  await makeDirs(dir);
  const exact = path.join(dir, `${stem}.png`);
  const large = path.join(dir, `${stem}.x8.png`);
  await fs.writeFile(exact, await framePng(pixels, size));
  await fs.writeFile(large, await framePng(pixels, size, 8));
  return [exact, large];
}
