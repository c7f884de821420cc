/**
 * The native backend's start-up checks (src/backend/native/preflight.ts): the installed TF.js
 * passes them, and each thing the backend relies on, when missing or different, yields a clear
 * one-line reason (and so a fallback to wasm) instead of a patch that silently does nothing.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend } from '../../src/backend/wasm/index.js';
import { loadAddon } from '../../src/backend/native/addon.js';
import { preflightSubject } from '../../src/backend/native/index.js';
import { PARAM_LAYOUT_FINGERPRINT } from '../../src/backend/native/param-layout.js';
import { CHECKED_PACKAGES, EXPECTED, preflight, TFJS_VERSION } from '../../src/backend/native/preflight.js';
import { fakePreflightSubject } from '../helpers/native.js';

type Obj = Record<string, unknown>;


/** The reason the preflight gives for `subject` after `change`. */
function reasonAfter(change: (s: ReturnType<typeof fakePreflightSubject>) => void): string | null {
  const s = fakePreflightSubject();
  change(s);
  return preflight(s);
}

describe('native backend preflight, on fakes', () => {
  it('passes when everything holds', () => assert.equal(preflight(fakePreflightSubject()), null));

  it('a different TF.js version is refused, naming the package and both versions', () => {
    for (const pkg of CHECKED_PACKAGES) {
      const reason = reasonAfter((s) => void ((s.versions as Record<string, unknown>)[pkg] = '4.21.0'));
      assert.equal(reason, `@tensorflow/${pkg} is 4.21.0, the native backend is written for ${TFJS_VERSION}`);
    }
    assert.match(reasonAfter((s) => void ((s.versions as Record<string, unknown>)['tfjs-core'] = undefined)) ?? '', /tfjs-core's version is unknown/);
  });

  it('a missing or unreplaceable tfjs-core export is refused by name', () => {
    for (const name of ['dropout', 'moments', 'batchNorm', 'batchNorm2d', 'batchNorm3d', 'batchNorm4d']) {
      assert.equal(reasonAfter((s) => delete s.core[name]), `tfjs-core's ${name} is not a function`);
    }
    for (const name of ['conv2d', 'matMul']) {
      assert.equal(reasonAfter((s) => delete (s.core.fused as Obj)[name]), `tfjs-core's fused.${name} is not a function`);
    }
    assert.equal(reasonAfter((s) => delete s.core.fused), "tfjs-core's fused is not an object");
    // An ESM-style namespace: read-only getters, which an assignment cannot replace.
    assert.equal(
      reasonAfter((s) => Object.defineProperty(s.core, 'moments', { get: () => () => undefined, enumerable: true })),
      "tfjs-core's moments cannot be replaced",
    );
    assert.equal(reasonAfter((s) => Object.freeze(s.core.fused)), "tfjs-core's fused.conv2d cannot be replaced");
  });

  it('Adam, the engine and the copy of tfjs-core that tfjs-layers uses are checked', () => {
    assert.equal(
      reasonAfter((s) => delete ((s.core.AdamOptimizer as { prototype: Obj }).prototype.applyGradients)),
      'AdamOptimizer.prototype.applyGradients is not a function',
    );
    assert.equal(reasonAfter((s) => delete s.core.AdamOptimizer), "tfjs-core's AdamOptimizer is not a class");
    assert.equal(
      reasonAfter((s) => void (s.core.engine = () => ({ state: {}, registeredVariables: {} }))),
      "tfjs-core's engine().state.gradientDepth is not a number",
    );
    assert.equal(
      reasonAfter((s) => void (s.layersCore = { ...s.core })),
      'tfjs-layers loads another copy of tfjs-core than the one the native backend patches',
    );
  });

  it('the wasm backend internals are checked', () => {
    assert.equal(reasonAfter((s) => void (s.backend.dataIdMap = {})), "the wasm backend's dataIdMap has no get()");
    assert.equal(reasonAfter((s) => void ((s.backend.wasm as Obj).HEAPU8 = new Int8Array(4))), "the wasm backend's wasm.HEAPU8 is not a Uint8Array");
    assert.equal(reasonAfter((s) => delete s.backend.wasm), "the wasm backend's wasm.HEAPU8 is not a Uint8Array");
    assert.equal(reasonAfter((s) => delete s.backend.makeOutput), "the wasm backend's makeOutput is not a function");
  });

  it('an addon that lacks a function, or was built for another parameter layout, is refused', () => {
    assert.equal(reasonAfter((s) => delete s.addon.conv2dPool), 'the native addon lacks conv2dPool; rebuild it with node native/build.mjs');
    assert.equal(reasonAfter((s) => delete s.addon.paramLayout), 'the native addon reports no parameter layout (it was built before this code); rebuild it with node native/build.mjs');
    assert.equal(
      reasonAfter((s) => void (s.addon.paramLayout = () => '0123456789abcdef')),
      `the native addon was built for parameter layout 0123456789abcdef, this code expects ${PARAM_LAYOUT_FINGERPRINT}; rebuild it with node native/build.mjs`,
    );
    assert.equal(
      preflight(fakePreflightSubject(), { ...EXPECTED, layoutFingerprint: 'fedcba9876543210' }),
      `the native addon was built for parameter layout ${PARAM_LAYOUT_FINGERPRINT}, this code expects fedcba9876543210; rebuild it with node native/build.mjs`,
    );
  });

});

describe('native backend preflight, on this installation', () => {
  let backend: unknown;
  before(async () => {
    await initWasmBackend();
    backend = tf.findBackend('wasm');
  });

  it('package.json pins every @tensorflow/* package to the version the backend is written for', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
    const pinned = Object.entries(pkg.dependencies).filter(([name]) => name.startsWith('@tensorflow/'));
    assert.ok(pinned.length >= CHECKED_PACKAGES.length);
    for (const [name, version] of pinned) assert.equal(version, TFJS_VERSION, `${name} is pinned to ${version}`);
  });

  it('the installed TF.js and wasm backend pass (with an addon that has every function)', () => {
    const subject = preflightSubject(fakePreflightSubject().addon, backend as never);
    for (const p of CHECKED_PACKAGES) assert.equal(subject.versions[p], TFJS_VERSION, p);
    assert.equal(preflight(subject), null);
  });

  it('the built addon passes, or is refused with the reason the backend reports', (t) => {
    const loaded = loadAddon();
    if (!loaded.ok) {
      if (process.env.CI) assert.fail(`${loaded.reason} (CI builds the native addon)`);
      t.skip(loaded.reason);
      return;
    }
    assert.equal(preflight(preflightSubject(loaded.addon, backend as never)), null);
  });
});
