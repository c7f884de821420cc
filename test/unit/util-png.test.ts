/** The server's small PNG encoder (src/util/png.ts): what sharp decodes from it is what went in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodePng } from '../../src/util/png.js';

test('grey, RGB and RGBA images of odd sizes decode to the same pixels', async () => {
  for (const [width, height, channels] of [[28, 28, 1], [28, 28, 3], [5, 3, 4], [1, 1, 1], [37, 11, 3]] as const) {
    const pixels = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37 + 11) & 0xff);
    const png = encodePng(pixels, width, height, channels);
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels, meta.depth], ['png', width, height, channels, 'uchar']);
    // sharp hands grey out as RGB: each band holds the grey level.
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const decoded = channels === 1 ? Uint8Array.from({ length: width * height }, (_, i) => data[i * info.channels]) : new Uint8Array(data);
    if (channels === 1) assert.ok(Array.from({ length: width * height }, (_, i) => i).every((i) => data[i * info.channels + 1] === decoded[i] && data[i * info.channels + 2] === decoded[i]));
    assert.deepEqual(decoded, pixels, `${width}x${height}x${channels}`);
  }
});

test('a size that does not match the pixels is refused', () => {
  assert.throws(() => encodePng(new Uint8Array(10), 28, 28, 1), /10 bytes for 28x28x1/);
});
