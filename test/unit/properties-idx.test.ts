/**
 * Property-based tests of the IDX reader (src/data/idx.ts): for any bytes, parseIdx returns what
 * the header declares or throws a one-line UserError naming the file — never another exception,
 * never a hang; valid files round-trip; gzip-wrapped files damaged anywhere fail the same way.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parseIdx, readIdx } from '../../src/data/idx.js';
import { UserError } from '../../src/util/errors.js';
import { idxBytes, tempDir } from '../fixtures/data/idx-fixtures.js';

const NAME = 'sample-idx3-ubyte';

/** parseIdx's result, or null when it refused the bytes with a proper UserError. */
function parseOrRefuse(bytes: Uint8Array, name = NAME): { dims: number[]; data: Uint8Array } | null {
  try {
    return parseIdx(bytes, name);
  } catch (e) {
    assert.ok(e instanceof UserError, `a UserError, not ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.ok(e.message.startsWith(`${name}: `), `the message names the file: ${e.message}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return null;
  }
}

/** A returned result must be exactly what the header says. */
function assertConsistent(bytes: Uint8Array, r: { dims: number[]; data: Uint8Array }): void {
  assert.equal(bytes[0], 0);
  assert.equal(bytes[1], 0);
  assert.equal(bytes[2], 0x08);
  const ndims = bytes[3];
  assert.equal(r.dims.length, ndims);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  r.dims.forEach((d, i) => assert.equal(d, view.getUint32(4 + 4 * i)));
  const header = 4 + 4 * ndims;
  assert.equal(r.data.length, r.dims.reduce((a, b) => a * b, 1));
  assert.equal(bytes.length, header + r.data.length);
  assert.deepEqual(Buffer.from(r.data), Buffer.from(bytes.subarray(header)));
}

/** A valid unsigned-byte IDX file: 1 to 3 dimensions, small sizes, random content. */
const validIdx = fc
  .tuple(fc.integer({ min: 0, max: 8 }), fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 2 }))
  .chain(([count, rest]) => {
    const dims = [count, ...rest];
    const size = dims.reduce((a, b) => a * b, 1);
    return fc.uint8Array({ minLength: size, maxLength: size }).map((data) => ({ dims, data, bytes: idxBytes(dims, data) }));
  });

/** Bytes that often get past the magic check: 0, 0, 0x08, a small dimension count, then anything. */
const idxLikeBytes = fc
  .tuple(fc.integer({ min: 0, max: 6 }), fc.uint8Array({ maxLength: 120 }))
  .map(([ndims, rest]) => Uint8Array.from([0, 0, 0x08, ndims, ...rest]));

test('arbitrary bytes: a result consistent with the header, or a one-line UserError naming the file', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), idxLikeBytes), (bytes) => {
      const r = parseOrRefuse(bytes);
      if (r) assertConsistent(bytes, r);
    }),
    { numRuns: 500 },
  );
});

test('valid generated files round-trip: the same dimensions and items', () => {
  fc.assert(
    fc.property(validIdx, ({ dims, data, bytes }) => {
      const r = parseIdx(bytes, NAME);
      assert.deepEqual(r.dims, dims);
      assert.deepEqual(Buffer.from(r.data), Buffer.from(data));
    }),
    { numRuns: 200 },
  );
});

test('valid files truncated anywhere are refused', () => {
  fc.assert(
    fc.property(
      validIdx.chain((v) => fc.integer({ min: 0, max: v.bytes.length - 1 }).map((cut) => v.bytes.subarray(0, cut))),
      (bytes) => assert.equal(parseOrRefuse(bytes), null),
    ),
    { numRuns: 200 },
  );
});

test('valid files with bytes appended are refused (trailing garbage)', () => {
  fc.assert(
    fc.property(validIdx, fc.uint8Array({ minLength: 1, maxLength: 40 }), (v, extra) => {
      const bytes = Buffer.concat([v.bytes, extra]);
      assert.equal(parseOrRefuse(bytes), null);
    }),
    { numRuns: 200 },
  );
});

test('valid files with a header byte flipped: refused, or read as the new header says', () => {
  fc.assert(
    fc.property(
      validIdx.chain((v) => fc.tuple(fc.constant(v.bytes), fc.integer({ min: 0, max: 4 + 4 * v.dims.length - 1 }), fc.integer({ min: 1, max: 255 }))),
      ([original, at, mask]) => {
        const bytes = Buffer.from(original);
        bytes[at] ^= mask;
        const r = parseOrRefuse(bytes);
        if (r) assertConsistent(bytes, r);
      },
    ),
    { numRuns: 300 },
  );
});

const dir = await tempDir('fcnn-prop-idx-');
after(() => fs.rm(dir, { recursive: true, force: true }));

test('gzip-wrapped files damaged anywhere (a byte changed, cut short, bytes appended): a result or a UserError', { timeout: 60_000 }, async () => {
  let n = 0;
  const damage = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 30 }) }),
  );
  await fc.assert(
    fc.asyncProperty(validIdx, damage, async (v, d) => {
      let gz = gzipSync(v.bytes);
      if (d.kind === 'flip') {
        gz = Buffer.from(gz);
        gz[d.at % gz.length] ^= d.mask;
      } else if (d.kind === 'cut') {
        gz = gz.subarray(0, d.at % gz.length);
      } else {
        gz = Buffer.concat([gz, d.extra]);
      }
      const file = path.join(dir, `f${n++}-idx3-ubyte.gz`);
      await fs.writeFile(file, gz);
      try {
        const r = await readIdx(file);
        assert.equal(r.data.length, r.dims.reduce((a, b) => a * b, 1), 'a result consistent with its header');
      } catch (e) {
        assert.ok(e instanceof UserError, `a UserError, not ${(e as Error)?.name}: ${(e as Error)?.message}`);
        assert.ok(e.message.includes(path.basename(file)), `names the file: ${e.message}`);
        assert.ok(!e.message.includes('\n'), 'one line');
      } finally {
        await fs.rm(file);
      }
    }),
    { numRuns: 150 },
  );
});
