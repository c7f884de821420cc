/** The sweep's time left is priced per configuration from its own epochs (src/sweep/eta.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sweepSecondsLeft } from '../../src/sweep/eta.js';
import type { JobStatus } from '../../src/sweep/records.js';

const job = (id: string, config: string, state: JobStatus['state'], epochs: number, seconds: number, planned = 10): JobStatus => ({
  id, config, model: config, seed: 1, settings: {}, state, epochs, plannedEpochs: planned, valAcc: null, testAcc: null, minutes: seconds / 60,
});
/** Minutes round-trip through seconds, so compare to a millisecond. */
const close = (actual: number | null, expected: number) => assert.ok(actual !== null && Math.abs(actual - expected) < 1e-3, `${actual} != ${expected}`);
const counts = (jobs: JobStatus[]) => ({
  pending: jobs.filter((j) => j.state === 'pending').length,
  running: jobs.filter((j) => j.state === 'running').length,
  done: jobs.filter((j) => j.state === 'done').length,
  failed: jobs.filter((j) => j.state === 'failed').length,
});

describe('sweepSecondsLeft', () => {
  it('is unknown before any epoch has finished', () => {
    const jobs = [job('a', 'cnn1', 'running', 0, 0), job('b', 'cnn3', 'pending', 0, 0)];
    assert.equal(sweepSecondsLeft({ jobs, counts: counts(jobs) }), null);
  });

  it('prices each configuration by its own epochs and shares the work among the runs under way', () => {
    // cnn1: 6 s an epoch; cnn3: 18 s an epoch. Two runs under way.
    const jobs = [
      job('cnn1-s1', 'cnn1', 'done', 10, 60),
      job('cnn1-s2', 'cnn1', 'running', 5, 30),
      job('cnn3-s1', 'cnn3', 'running', 2, 36),
      job('cnn3-s2', 'cnn3', 'pending', 0, 0),
    ];
    const expected = (5 * 6 + 8 * 18 + 10 * 18) / 2;
    close(sweepSecondsLeft({ jobs, counts: counts(jobs) }), expected);
  });

  it('prices a configuration with no epochs yet at the mean of the others, and ignores failed runs', () => {
    const jobs = [job('a', 'cnn1', 'running', 4, 40), job('b', 'cnn3', 'pending', 0, 0), job('c', 'cnn4', 'failed', 1, 500)];
    // cnn1 10 s, cnn4 500 s: the mean 255 s prices cnn3; the failed cnn4 run adds no work.
    close(sweepSecondsLeft({ jobs, counts: counts(jobs) }), 6 * 10 + 10 * 255);
  });

  it('is zero when every run is done', () => {
    const jobs = [job('a', 'cnn1', 'done', 10, 60)];
    assert.equal(sweepSecondsLeft({ jobs, counts: counts(jobs) }), 0);
  });
});
