/**
 * The bad-input matrix (test/reliability/cases.ts): the table itself, the doc that lists it, and
 * the cases that need no process of their own (flags, damaged data files, images, run
 * directories, refused resumes), run in this process through the CLI's main(argv), one after another
 * (runsInProcess in harness.ts says which; test/integration/reliability.test.ts runs the others
 * as child processes). Each is checked as the others are: its exit code and stderr line, no stack
 * trace, one line and nothing on stdout for an error.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { CASES } from '../reliability/cases.js';
import { HTTP_CASES } from '../reliability/http-cases.js';
import { AREAS, problems, removeFixtures, runCase, runsInProcess } from '../reliability/harness.js';
import { docRows } from '../reliability/doc.js';

after(removeFixtures);

test('the table: unique ids, at least 60 cases, every area covered', () => {
  const ids = CASES.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  assert.ok(CASES.length >= 60, `${CASES.length} cases`);
  for (const area of AREAS) assert.ok(CASES.some((c) => c.area === area), `area ${area} has cases`);
  for (const c of CASES) assert.ok(c.setup || c.args, `${c.id} has a command`);
});

test('docs/RELIABILITY.md lists every case of the tables, with its exit code or status', () => {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs/RELIABILITY.md'), 'utf8');
  const rows = docRows(doc);
  const expected = new Map<string, number>([...CASES.map((c): [string, number] => [c.id, c.code]), ...HTTP_CASES.map((c): [string, number] => [c.id, c.status])]);
  const missing = [...expected.keys()].filter((id) => !rows.has(id));
  assert.deepEqual(missing, [], 'cases missing from docs/RELIABILITY.md (run `npm run reliability:doc`)');
  const stale = [...rows.keys()].filter((id) => !expected.has(id));
  assert.deepEqual(stale, [], 'cases in docs/RELIABILITY.md that the tables no longer have');
  for (const [id, code] of expected) assert.equal(rows.get(id)?.code, code, `${id}: exit code or status in the doc`);
});

test('the cases that need no process of their own behave as the table says (in-process, through main(argv))', async (t) => {
  const inProcess = CASES.filter(runsInProcess);
  assert.ok(inProcess.length >= 100, `${inProcess.length} cases run in-process`);
  for (const c of inProcess) {
    await t.test(`${c.id} ${c.area}: ${c.given}${c.knownBug ? ` [known bug: ${c.knownBug}]` : ''}`, async () => {
      const o = await runCase(c);
      assert.deepEqual(problems(o), [], `${o.command}\nexit ${o.result.code}\nstderr: ${o.result.stderr}\nstdout: ${o.result.stdout.slice(0, 500)}`);
    });
  }
});
