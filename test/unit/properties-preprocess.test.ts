/**
 * Property-based tests of photo preprocessing (src/predict/preprocess.ts preprocessImage): any
 * bytes give a one-line UserError or a 28x28 frame in [0,1]; random small pictures (a background,
 * a few rectangles) give a frame or the one "no object" UserError — never another exception.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import sharp from 'sharp';
import { preprocessImage } from '../../src/predict/photo.js';
import { UserError } from '../../src/util/errors.js';

const FRAME = 28 * 28;

/** The frame, or the UserError's message; anything else fails the property. */
async function preprocessOrRefuse(bytes: Buffer): Promise<Float32Array | string> {
  try {
    const { pixels } = await preprocessImage(bytes);
    return pixels;
  } catch (e) {
    assert.ok(e instanceof UserError, `a UserError, not ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.ok(!e.message.includes('\n') && e.message.length > 0, `one line: ${e.message}`);
    return e.message;
  }
}

function assertFrame(pixels: Float32Array): void {
  assert.equal(pixels.length, FRAME);
  for (const v of pixels) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1, `pixel ${v} in [0,1]`);
}

/** Magic numbers that send arbitrary bytes into the real decoders. */
const MAGICS = [
  [0xff, 0xd8, 0xff, 0xe0], // JPEG
  [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], // PNG
  [0x47, 0x49, 0x46, 0x38, 0x39, 0x61], // GIF89a
  [0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50], // RIFF....WEBP
  [0x3c, 0x73, 0x76, 0x67], // <svg
];

test('arbitrary bytes (some behind an image format\'s magic number): a UserError or a 28x28 frame in [0,1]', { timeout: 120_000 }, async () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 2000 }),
    fc.tuple(fc.constantFrom(...MAGICS), fc.uint8Array({ maxLength: 2000 })).map(([m, rest]) => Uint8Array.from([...m, ...rest])),
  );
  await fc.assert(
    fc.asyncProperty(bytes, async (b) => {
      const r = await preprocessOrRefuse(Buffer.from(b));
      if (typeof r !== 'string') assertFrame(r);
    }),
    { numRuns: 50 },
  );
});

const colour = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }));

/** A small picture: a background colour and up to four rectangles, as fractions of the size. */
const picture = fc.record({
  width: fc.integer({ min: 8, max: 64 }),
  height: fc.integer({ min: 8, max: 64 }),
  background: colour,
  rects: fc.array(
    fc.record({ x: fc.double({ min: 0, max: 1, noNaN: true }), y: fc.double({ min: 0, max: 1, noNaN: true }), w: fc.double({ min: 0, max: 1, noNaN: true }), h: fc.double({ min: 0, max: 1, noNaN: true }), colour }),
    { maxLength: 4 },
  ),
  format: fc.constantFrom('png' as const, 'jpeg' as const, 'webp' as const, 'gif' as const),
  /** An alpha channel: transparent pixels are flattened onto white. */
  alpha: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
});

interface Picture {
  width: number;
  height: number;
  background: number[];
  rects: { x: number; y: number; w: number; h: number; colour: number[] }[];
  format: 'png' | 'jpeg' | 'webp' | 'gif';
  alpha?: number;
}

async function render(p: Picture): Promise<Buffer> {
  const raw = Buffer.alloc(p.width * p.height * 3);
  for (let i = 0; i < p.width * p.height; i++) raw.set(p.background, i * 3);
  for (const r of p.rects) {
    const x0 = Math.floor(r.x * p.width);
    const y0 = Math.floor(r.y * p.height);
    const x1 = Math.min(p.width, x0 + Math.ceil(r.w * p.width));
    const y1 = Math.min(p.height, y0 + Math.ceil(r.h * p.height));
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) raw.set(r.colour, (y * p.width + x) * 3);
  }
  const image = sharp(raw, { raw: { width: p.width, height: p.height, channels: 3 } });
  return (p.alpha === undefined ? image : image.ensureAlpha(p.alpha / 255)).toFormat(p.format).toBuffer();
}

test('random small pictures (8..64 pixels, rectangles on a background, PNG/JPEG/WebP/GIF, some translucent): a frame in [0,1], or "no object"', { timeout: 120_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(picture, async (p) => {
      const r = await preprocessOrRefuse(await render(p));
      if (typeof r === 'string') assert.match(r, /^no object stands out from the background/);
      else assertFrame(r);
    }),
    { numRuns: 50 },
  );
});

test('a picture with one clear rectangle on a plain background always gives a frame with the object lit', { timeout: 120_000 }, async () => {
  const clear = fc.record({
    width: fc.integer({ min: 16, max: 64 }),
    height: fc.integer({ min: 16, max: 64 }),
    light: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(clear, async ({ width, height, light }) => {
      const background = light ? [240, 240, 235] : [15, 15, 20];
      const object = light ? [30, 40, 90] : [220, 200, 180];
      const png = await render({ width, height, background, format: 'png', rects: [{ x: 0.3, y: 0.25, w: 0.4, h: 0.5, colour: object }] });
      const r = await preprocessOrRefuse(png);
      assert.ok(typeof r !== 'string', `a frame: ${r}`);
      assertFrame(r as Float32Array);
      assert.ok(Math.max(...(r as Float32Array)) > 0.5, 'the object is lit');
    }),
    { numRuns: 30 },
  );
});
