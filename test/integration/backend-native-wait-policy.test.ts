/**
 * OpenMP's idle threads wait passively unless the user chose (src/backend/native/wait-policy.ts),
 * set before the addon loads libgomp; child processes that are not ours (PyTorch's reference)
 * get the user's environment.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { preferPassiveWaiting } from '../../src/backend/native/wait-policy.js';

describe('the OpenMP wait policy', () => {
  it('is passive unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is given', () => {
    const none: NodeJS.ProcessEnv = {};
    assert.equal(preferPassiveWaiting(none), true);
    assert.equal(none.OMP_WAIT_POLICY, 'passive');
    const active: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: 'active' };
    assert.equal(preferPassiveWaiting(active), false);
    assert.equal(active.OMP_WAIT_POLICY, 'active');
    const spin: NodeJS.ProcessEnv = { GOMP_SPINCOUNT: '1000' };
    assert.equal(preferPassiveWaiting(spin), false);
    assert.equal(spin.OMP_WAIT_POLICY, undefined);
  });

  it('is set when the addon loads, and left out of the environment given to other programs', () => {
    const backend = fileURLToPath(new URL('../../src/backend/index.js', import.meta.url));
    const script = `const b = await import(${JSON.stringify(backend)}); const r = await b.initBackend('wasm'); const n = await import(${JSON.stringify(fileURLToPath(new URL('../../src/backend/native/addon.js', import.meta.url)))}); const l = n.loadAddon();
      console.log(JSON.stringify({ loaded: l.ok, own: process.env.OMP_WAIT_POLICY ?? null, others: b.userEnvironment().OMP_WAIT_POLICY ?? null }));`;
    const run = (env: NodeJS.ProcessEnv) => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { loaded: boolean; own: string | null; others: string | null };
    };
    const base = { ...process.env };
    delete base.OMP_WAIT_POLICY;
    delete base.GOMP_SPINCOUNT;
    const chosen = run(base);
    if (!chosen.loaded) {
      assert.ok(!process.env.CI, 'CI builds the native addon');
      return; // no addon here: nothing is loaded, nothing set
    }
    assert.deepEqual(chosen, { loaded: true, own: 'passive', others: null });
    assert.deepEqual(run({ ...base, OMP_WAIT_POLICY: 'active' }), { loaded: true, own: 'active', others: 'active' });
  });
});
