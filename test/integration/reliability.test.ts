/**
 * The bad-input matrix (test/reliability/cases.ts): the cases that need a process of their own
 * (trainings, kills, locks held by another process, slow pipes, commands that could
 * hang or leave a server listening), each through the real CLI in a child process, two at a time:
 * each case's exit code and stderr line, no stack trace, one line and nothing on stdout for an
 * error. The other cases, the table itself and the doc are test/unit/reliability.test.ts's.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CASES } from '../reliability/cases.js';
import { problems, removeFixtures, runCase, runsInProcess, sharedFixtures } from '../reliability/harness.js';

after(removeFixtures);

test('every case that needs a process of its own behaves as the table says', { concurrency: 2, timeout: 600_000 }, async (t) => {
  // The real run trains (a child process) while the first cases, which do not need it, run.
  void sharedFixtures().then((fx) => fx.realRun()).catch(() => {}); // a failure shows in the cases that use it
  await Promise.all(
    CASES.filter((c) => !runsInProcess(c)).map((c) =>
      t.test(`${c.id} ${c.area}: ${c.given}${c.knownBug ? ` [known bug: ${c.knownBug}]` : ''}`, async () => {
        const o = await runCase(c);
        assert.deepEqual(problems(o), [], `${o.command}\nexit ${o.result.code}\nstderr: ${o.result.stderr}\nstdout: ${o.result.stdout.slice(0, 500)}`);
      }),
    ),
  );
});
