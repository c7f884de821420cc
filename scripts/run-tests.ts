/**
 * Runs test tiers (folders of dist/test/) in one node:test run, with one summary, two files at a
 * time: `npm test` runs both, the integration tier's files first. `node --test` would sort all the
 * files by path, so the slowest ones, which are all in test/integration/, would start last and
 * one core would sit idle while the last of them finishes.
 *
 *   node dist/scripts/run-tests.js integration unit
 *   node dist/scripts/run-tests.js --timings integration unit   (and each file's time, slowest first)
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const TESTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test');
/** Files run at once: the tests were timed for 2 cores, and several start processes or threads of their own. */
const CONCURRENCY = 2;

const args = process.argv.slice(2);
const timings = args.includes('--timings');
const tiers = args.filter((a) => a !== '--timings');
if (tiers.length === 0) {
  process.stderr.write('usage: node dist/scripts/run-tests.js TIER... (folders of dist/test/, e.g. integration unit)\n');
  process.exit(2);
}
const files = tiers.flatMap((tier) =>
  readdirSync(path.join(TESTS, tier))
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => path.join(TESTS, tier, f)),
);

const stream = run({ files, concurrency: CONCURRENCY });
/** Each file's time: its top-level tests' durations added up (they run one after another). */
const fileSeconds = new Map<string, number>();
const note = (d: { file?: string; nesting: number; details: { duration_ms: number } }) => {
  if (timings && d.file && d.nesting === 0) fileSeconds.set(d.file, (fileSeconds.get(d.file) ?? 0) + d.details.duration_ms / 1000);
};
stream.on('test:pass', note);
stream.on('test:fail', (d) => {
  process.exitCode = 1;
  note(d);
});
const out = stream.compose(new spec());
out.pipe(process.stdout);
out.on('end', () => {
  if (!timings) return;
  const rows = [...fileSeconds].sort((a, b) => b[1] - a[1]);
  for (const [file, seconds] of rows) process.stderr.write(`${seconds.toFixed(1).padStart(6)} s  ${path.relative(TESTS, file)}\n`);
});
