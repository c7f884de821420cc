/**
 * The seam between TypeScript and the native kernels: every call carries the heap and its
 * arguments (kernel(heap, params)), the C++ side refuses arguments that are unset, not whole
 * numbers, out of range or unknown codes, and NativeContext.invoke refuses what it can see first.
 * The addon is called directly here, on heaps of our own (any ArrayBuffer will do).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { loadAddon, type NativeAddon } from '../../src/backend/native/addon.js';
import { nativeContext } from '../../src/backend/native/index.js';
import { CODES, FAMILIES, PARAM_BLOCK_SIZE, SLOTS, STRUCTS } from '../../src/backend/native/param-layout.js';
import { nativeSkip, requireNative, startNative } from '../helpers/native.js';

const reason = await startNative();
const skip = nativeSkip(reason);
const loaded = loadAddon();
const addon = (loaded.ok ? loaded.addon : null) as NativeAddon | null;

/** A parameter block as invoke leaves it: every slot NaN (unset). */
const block = () => new Float64Array(PARAM_BLOCK_SIZE).fill(NaN);

/** A heap of `floats` values, and a float view of it. */
function heap(floats: number): { buffer: ArrayBuffer; f32: Float32Array } {
  const buffer = new ArrayBuffer(floats * 4);
  return { buffer, f32: new Float32Array(buffer) };
}

/** unary's arguments for y = op(x) on n values, x at float 0 and y at float 64. */
function unaryBlock(op: number, n: number): Float64Array {
  const p = block();
  const s = SLOTS.unary;
  p[s.op] = op;
  p[s.x] = 0;
  p[s.y] = 64 * 4;
  p[s.count] = n;
  p[s.alpha] = 0;
  p[s.beta] = 0;
  return p;
}

describe('the native kernels check every call', { skip }, () => {
  before(requireNative);

  it('compute on the heap passed with the call', () => {
    const h = heap(128);
    h.f32.set([-2, -0.5, 0.5, 3]);
    addon!.unary(h.buffer, unaryBlock(CODES.unary.Relu, 4).buffer);
    assert.deepEqual([...h.f32.subarray(64, 68)], [0, 0, 0.5, 3]);
  });

  it('take exactly a heap and a parameter block of the layout\'s size', () => {
    const h = heap(128);
    const run = addon!.unary as unknown as (...args: unknown[]) => void;
    assert.throws(() => run(), /takes \(heap: ArrayBuffer, params: ArrayBuffer\)/);
    assert.throws(() => run(h.buffer), /takes \(heap: ArrayBuffer, params: ArrayBuffer\)/);
    assert.throws(() => run(h.f32, unaryBlock(0, 4).buffer), /takes \(heap: ArrayBuffer, params: ArrayBuffer\)/);
    assert.throws(() => run(h.buffer, new Float64Array(PARAM_BLOCK_SIZE - 1).buffer), /parameter block must be 256 doubles/);
  });

  it('refuse an unknown operation code, whatever the family', () => {
    const h = heap(128);
    assert.throws(() => addon!.unary(h.buffer, unaryBlock(99, 4).buffer), /unknown unary code 99/);
    assert.throws(() => addon!.unary(h.buffer, unaryBlock(-1, 4).buffer), /unknown unary code -1/);
    const r = block();
    Object.assign(r, { [SLOTS.reduce.op]: Object.keys(CODES.reduce).length, [SLOTS.reduce.x]: 0, [SLOTS.reduce.y]: 256, [SLOTS.reduce.outer]: 1, [SLOTS.reduce.reduced]: 4, [SLOTS.reduce.inner]: 1 });
    assert.throws(() => addon!.reduce(h.buffer, r.buffer), /unknown reduce code 4/);
    // An activation code past the list used to become "linear" silently.
    const c = block();
    const g = { N: 1, H: 3, W: 3, C: 1, KH: 1, KW: 1, OC: 1, OH: 3, OW: 3, SH: 1, SW: 1, DH: 1, DW: 1, padT: 0, padL: 0, padB: 0, padR: 0 };
    for (const [f, i] of Object.entries(STRUCTS.convGeometry)) c[SLOTS.conv.geometry + i] = g[f as keyof typeof g];
    Object.assign(c, { [SLOTS.conv.a]: 0, [SLOTS.conv.b]: 64, [SLOTS.conv.bias]: -1, [SLOTS.conv.out]: 128, [SLOTS.conv.activation]: 6, [SLOTS.conv.alpha]: 0, [SLOTS.conv.scaleShift]: -1 });
    assert.throws(() => addon!.conv2d(h.buffer, c.buffer), /unknown activation code 6/);
    c[SLOTS.conv.activation] = CODES.activation.relu;
    addon!.conv2d(h.buffer, c.buffer);
  });

  it('refuse an argument that was not set, is not a whole number, or is out of range', () => {
    const h = heap(128);
    const unset = unaryBlock(CODES.unary.Neg, 4);
    unset[SLOTS.unary.count] = NaN;
    assert.throws(() => addon!.unary(h.buffer, unset.buffer), new RegExp(`slot ${SLOTS.unary.count} was not set`));
    for (const bad of [2.5, Infinity, -Infinity, 1e300]) {
      const p = unaryBlock(CODES.unary.Neg, 4);
      p[SLOTS.unary.count] = bad;
      assert.throws(() => addon!.unary(h.buffer, p.buffer), /is not an integer within \+-2\^53/, `count ${bad}`);
    }
    const negative = unaryBlock(CODES.unary.Neg, -4);
    assert.throws(() => addon!.unary(h.buffer, negative.buffer), /is not a size in \[0, 2\^31\)/);
    const huge = unaryBlock(CODES.unary.Neg, 2 ** 31);
    assert.throws(() => addon!.unary(h.buffer, huge.buffer), /is not a size/);
    const opNaN = unaryBlock(CODES.unary.Neg, 4);
    opNaN[SLOTS.unary.op] = 0.5;
    assert.throws(() => addon!.unary(h.buffer, opNaN.buffer), /is not an integer/);
  });

  it('refuse tensors outside the heap, and offsets that are not whole or are negative other than -1', () => {
    const h = heap(128);
    const past = unaryBlock(CODES.unary.Neg, 65); // y (floats 64..128) would end one float past the heap
    assert.throws(() => addon!.unary(h.buffer, past.buffer), /tensor outside the wasm heap/);
    for (const offset of [-2, 0.5, NaN, Infinity, 2 ** 40]) {
      const p = unaryBlock(CODES.unary.Neg, 4);
      p[SLOTS.unary.x] = offset;
      assert.throws(() => addon!.unary(h.buffer, p.buffer), /offset|not set/, `offset ${offset}`);
    }
    // -1 is "absent" for an optional tensor only: the bias of reluGradBias may be absent, dy may not.
    const r = block();
    Object.assign(r, { [SLOTS.reluGradBias.dy]: -1, [SLOTS.reluGradBias.y]: -1, [SLOTS.reluGradBias.dyAct]: -1, [SLOTS.reluGradBias.bias]: -1, [SLOTS.reluGradBias.rows]: 2, [SLOTS.reluGradBias.channels]: 2 });
    assert.throws(() => addon!.reluGradBias(h.buffer, r.buffer), /offset/);
  });

  it('refuse pooling strides of 0 (a division by zero) and a binary op whose strides reach past an operand', () => {
    const h = heap(256);
    const p = block();
    const g = { N: 1, H: 4, W: 4, C: 1, OH: 2, OW: 2, KH: 2, KW: 2, SH: 0, SW: 2, DH: 1, DW: 1, padT: 0, padL: 0 };
    for (const [f, i] of Object.entries(STRUCTS.poolGeometry)) p[SLOTS.maxPoolGrad.geometry + i] = g[f as keyof typeof g];
    Object.assign(p, { [SLOTS.maxPoolGrad.dy]: 0, [SLOTS.maxPoolGrad.x]: 64, [SLOTS.maxPoolGrad.dx]: 128 });
    assert.throws(() => addon!.maxPoolGrad(h.buffer, p.buffer), /window, stride and dilation must be at least 1/);
    const b = block();
    const s = SLOTS.binary;
    Object.assign(b, { [s.op]: CODES.binary.Add, [s.a]: 0, [s.b]: 64, [s.out]: 128, [s.rank]: 1, [s.outShape]: 8, [s.aStrides]: 1, [s.bStrides]: 1, [s.aSize]: 8, [s.bSize]: 4 });
    assert.throws(() => addon!.binary(h.buffer, b.buffer), /strides reach past an operand/);
  });
});

describe('NativeContext.invoke', { skip }, () => {
  before(requireNative);

  it('refuses an unknown code or argument name before the addon runs', () => {
    const ctx = nativeContext()!;
    const before = ctx.calls.unary;
    assert.throws(() => ctx.invoke('unary', { op: 99 as never, x: 0, y: 0, count: 0, alpha: 0, beta: 0 }), /native kernel unary: unknown unary code 99/);
    assert.throws(() => ctx.invoke('unary', { opp: 1 } as never), /native kernel unary: no argument named opp/);
    assert.throws(() => ctx.invoke('binary', { outShape: [1, 2, 3, 4, 5, 6, 7] }), /outShape holds 6 values, not 7/);
    assert.equal(ctx.calls.unary, before, 'the addon was not called');
  });

  it('leaves no argument from an earlier call: what a call does not write is unset', () => {
    const ctx = nativeContext()!;
    const x = tf.tensor1d([1, -2, 3]);
    const y = tf.neg(x); // a full unary call: every slot written
    assert.deepEqual([...y.dataSync()], [-1, 2, -3]);
    // The same kernel without its count: refused by the C++ side, not run with the last call's count.
    assert.throws(() => ctx.invoke('unary', { op: CODES.unary.Neg, x: ctx.offset(x), y: ctx.offset(y), alpha: 0, beta: 0 }), new RegExp(`slot ${SLOTS.unary.count} was not set`));
    assert.equal(FAMILIES.unary.extent, 6);
    tf.dispose([x, y]);
  });

  it('a kernel called after the heap grew works on the grown heap', () => {
    const ctx = nativeContext()!;
    const heapBuffer = () => (ctx.backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer;
    const x = tf.tensor1d([4, -5, 6]);
    const out = ctx.backend.makeOutput([3], 'float32');
    const old = heapBuffer();
    // Outputs allocated, then an allocation that grows the heap (replacing its buffer), then the call.
    const big = ctx.backend.makeOutput([old.byteLength / 4 + (1 << 20)], 'float32');
    assert.notEqual(heapBuffer(), old, 'the heap grew');
    ctx.invoke('unary', { op: CODES.unary.Abs, x: ctx.offset(x), y: ctx.offset(out), count: 3, alpha: 0, beta: 0 });
    const result = tf.engine().makeTensorFromTensorInfo(out);
    assert.deepEqual([...result.dataSync()], [4, 5, 6]);
    ctx.backend.disposeData(big.dataId);
    tf.dispose([x, result]);
  });
});
