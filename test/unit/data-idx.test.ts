import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../helpers/assert-user-error.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdx, readImagesIdx, readLabelsIdx, readImageSet } from '../../src/data/index.js';
import { idxBytes, imagesIdx, labelsIdx, md5, tempDir } from '../fixtures/data/idx-fixtures.js';

const dir = await tempDir();
after(() => fs.rm(dir, { recursive: true, force: true }));

async function put(name: string, bytes: Uint8Array): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  return file;
}


test('reads gzip and plain IDX files alike, with dims and the MD5 of the uncompressed bytes', async () => {
  const raw = imagesIdx(5);
  const gz = await put('a-images.gz', gzipSync(raw));
  const plain = await put('a-images', raw);
  const fromGz = await readIdx(gz);
  const fromPlain = await readIdx(plain);
  assert.deepEqual(fromGz.dims, [5, 28, 28]);
  assert.equal(fromGz.gzipped, true);
  assert.equal(fromPlain.gzipped, false);
  assert.deepEqual(fromGz.data, fromPlain.data);
  assert.equal(fromGz.data.length, 5 * 784);
  assert.equal(fromGz.data.byteOffset, 0);
  assert.equal(fromGz.md5, md5(raw));
  assert.equal(fromPlain.md5, md5(raw));
});

test('gzip is detected by its magic bytes, not by the file name', async () => {
  const raw = labelsIdx([1, 2, 3]);
  const gzNoSuffix = await put('labels-no-suffix', gzipSync(raw));
  const plainWithGz = await put('plain-labels.gz', raw);
  assert.deepEqual([...(await readLabelsIdx(gzNoSuffix)).data], [1, 2, 3]);
  assert.deepEqual([...(await readLabelsIdx(plainWithGz)).data], [1, 2, 3]);
});

test('bad magic number is refused', async () => {
  const bytes = Buffer.from([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0]);
  await rejectsWith(readIdx(await put('bad-magic', bytes)), /^bad-magic: not an IDX file: bad magic number 0x12345678/);
  await rejectsWith(readIdx(await put('bad-magic.gz', bytes)), /^bad-magic\.gz: neither gzip data .* nor an IDX file \(magic 0x12345678\)/);
});

test('a data type other than unsigned byte is refused', async () => {
  const file = await put('floats', idxBytes([2], new Uint8Array(8), 0x0d));
  await rejectsWith(readIdx(file), /^floats: unsupported IDX data type 0x0d/);
});

test('images of the wrong size are refused', async () => {
  const file = await put('big-images.gz', gzipSync(imagesIdx(2, 32, 32)));
  await rejectsWith(readImagesIdx(file), /^big-images\.gz: wrong image size 32x32, expected 28x28$/);
});

test('a label file where images are expected (and the reverse) is refused', async () => {
  const labels = await put('labels-as-images', labelsIdx([1, 2]));
  const images = await put('images-as-labels', imagesIdx(2));
  await rejectsWith(readImagesIdx(labels), /^labels-as-images: expected an IDX image file \(magic 0x00000803.*label file\?/);
  await rejectsWith(readLabelsIdx(images), /^images-as-labels: expected an IDX label file \(magic 0x00000801.*image file\?/);
});

test('truncated data is refused with what the header promised', async () => {
  const full = labelsIdx(new Uint8Array(10000));
  const cut = full.subarray(0, 8 + 9000);
  const file = await put('t10k-labels-idx1-ubyte.gz', gzipSync(cut));
  await rejectsWith(readLabelsIdx(file), /^t10k-labels-idx1-ubyte\.gz: truncated: header says 10000 items but only 9000 bytes of data$/);
  const images = imagesIdx(3).subarray(0, 16 + 2 * 784 + 5);
  await rejectsWith(readImagesIdx(await put('cut-images', images)), /^cut-images: truncated: header says 3 items of 28x28 bytes \(2352 bytes\) but only 1573 bytes of data$/);
});

test('a truncated header is refused', async () => {
  await rejectsWith(readIdx(await put('short-header', Buffer.from([0, 0, 8, 3, 0, 0, 0, 1]))), /^short-header: truncated: the header declares 3 dimensions/);
  await rejectsWith(readIdx(await put('tiny', Buffer.from([0, 0]))), /^tiny: too short to be an IDX file/);
});

test('trailing bytes after the declared items are refused', async () => {
  const file = await put('trailing.gz', gzipSync(Buffer.concat([labelsIdx([1, 2, 3]), Buffer.from('junk')])));
  await rejectsWith(readLabelsIdx(file), /^trailing\.gz: trailing garbage: 4 unexpected bytes after the 3 items the header declares$/);
});

test('labels outside 0..9 are refused, naming the item', async () => {
  const file = await put('labels-range.gz', gzipSync(labelsIdx([0, 9, 3, 4, 2, 10, 1])));
  await rejectsWith(readLabelsIdx(file), /^labels-range\.gz: label 10 of item 5 is out of range 0\.\.9$/);
});

test('image and label files with different counts are refused', async () => {
  const images = await put('pair-images.gz', gzipSync(imagesIdx(20)));
  const labels = await put('pair-labels.gz', gzipSync(labelsIdx(new Uint8Array(19))));
  await rejectsWith(readImageSet(images, labels), /^pair-images\.gz has 20 images but pair-labels\.gz has 19 labels$/);
  const ok = await readImageSet(images, await put('pair-labels-ok.gz', gzipSync(labelsIdx(new Uint8Array(20)))));
  assert.equal(ok.set.count, 20);
  assert.equal(ok.set.rows, 28);
});

test('corrupt or truncated gzip data is refused', async () => {
  const gz = gzipSync(imagesIdx(4));
  const damaged = Buffer.from(gz);
  for (let i = 20; i < 60; i++) damaged[i] ^= 0xa5;
  await rejectsWith(readIdx(await put('damaged.gz', damaged)), /^damaged\.gz: corrupt gzip data \(/);
  await rejectsWith(readIdx(await put('cut.gz', gz.subarray(0, gz.length - 40))), /^cut\.gz: corrupt gzip data \(unexpected end of file\)$/);
});

test('a missing file is reported by path', async () => {
  await rejectsWith(readIdx(path.join(dir, 'nope.gz')), /nope\.gz: file not found$/);
});
