/**
 * `npm run reliability:doc`: runs every case of the bad-input matrix (test/reliability/cases.ts)
 * through the real CLI, and the server's (test/reliability/http-cases.ts) through the HTTP API, and
 * writes docs/RELIABILITY.md with what each one printed or answered.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../test/helpers/cli.js';
import { CASES } from '../test/reliability/cases.js';
import { renderDoc } from '../test/reliability/doc.js';
import { problems, removeFixtures, runCases } from '../test/reliability/harness.js';
import { HTTP_CASES } from '../test/reliability/http-cases.js';
import { httpProblems, runHttpCases } from '../test/reliability/http-harness.js';

const only = process.argv.slice(2);
const cases = only.length ? CASES.filter((c) => only.includes(c.id)) : CASES;
const httpCases = only.length ? HTTP_CASES.filter((c) => only.includes(c.id)) : HTTP_CASES;
const started = performance.now();
const observed = await runCases(cases, 2, (o) => {
  const bad = problems(o);
  process.stderr.write(`${bad.length ? 'DIFFERS' : 'ok     '} ${o.c.id} ${o.seconds.toFixed(1).padStart(5)} s  exit ${o.result.code}  ${o.shown}${bad.length ? `\n        ${bad.join('\n        ')}\n        stderr: ${o.result.stderr.trim().split('\n').join('\n                ')}` : ''}\n`);
});
const seconds = (performance.now() - started) / 1000;
const httpStarted = performance.now();
const http = await runHttpCases(httpCases, (o) => {
  const bad = httpProblems(o);
  process.stderr.write(`${bad.length ? 'DIFFERS' : 'ok     '} ${o.c.id} ${o.seconds.toFixed(1).padStart(5)} s  ${o.status}  ${o.shown}${bad.length ? `\n        ${bad.join('\n        ')}\n        body: ${o.body.slice(0, 500)}` : ''}\n`);
});
const httpSeconds = (performance.now() - httpStarted) / 1000;
const slowest = [...observed].sort((a, b) => b.seconds - a.seconds).slice(0, 12);
process.stderr.write(`slowest: ${slowest.map((o) => `${o.c.id} ${o.seconds.toFixed(1)} s`).join(', ')}\n`);
const byArea = new Map<string, number>();
for (const o of observed) byArea.set(o.c.area, (byArea.get(o.c.area) ?? 0) + o.seconds);
process.stderr.write(`case-seconds by area: ${[...byArea].map(([a, s]) => `${a} ${s.toFixed(0)}`).join(', ')}\n`);
await removeFixtures();
if (only.length) {
  process.stderr.write(`ran ${cases.length + httpCases.length} case(s) only; docs/RELIABILITY.md not written\n`);
} else {
  const file = path.join(REPO_ROOT, 'docs', 'RELIABILITY.md');
  writeFileSync(file, renderDoc(observed, seconds, http, httpSeconds));
  process.stderr.write(`wrote ${file}: ${observed.length} CLI cases in ${seconds.toFixed(0)} s, ${http.length} server cases in ${httpSeconds.toFixed(0)} s\n`);
}
process.exit(observed.some((o) => problems(o).length > 0) || http.some((o) => httpProblems(o).length > 0) ? 1 : 0);
