/**
 * The server's bad-input table (test/reliability/http-cases.ts): each request against its own
 * server on the shared fixtures, through Fastify's inject(). Every case answers with its status and
 * error message, errors as {"error": ...} only, never an internal error, never a path of this machine.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { HTTP_CASES } from '../reliability/http-cases.js';
import { httpProblems, runHttpCase } from '../reliability/http-harness.js';
import { removeFixtures } from '../reliability/harness.js';

after(removeFixtures);

test('the table: unique ids H01..., each with a request', () => {
  const ids = HTTP_CASES.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  for (const id of ids) assert.match(id, /^H\d{2,}$/);
});

test('every case of the server table answers as the table says', { timeout: 600_000 }, async (t) => {
  // One after another: the cases share this process's environment, and some start worker processes.
  for (const c of HTTP_CASES) {
    await t.test(`${c.id}: ${c.given}`, async () => {
      const o = await runHttpCase(c);
      assert.deepEqual(httpProblems(o), [], `${o.request}\nstatus ${o.status}\nbody: ${o.body.slice(0, 500)}`);
    });
  }
});
