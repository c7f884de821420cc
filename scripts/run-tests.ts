/**
 * Runs test tiers (folders of dist/test/) in one node:test run, with one summary, two files at a
 * time: `npm test` runs both, the integration tier's files first. `node --test` would sort all the
 * files by path, so the slowest ones, which are all in test/integration/, would start last and
 * one core would sit idle while the last of them finishes.
 *
 *   node dist/scripts/run-tests.js integration unit
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const TESTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test');
/** Files run at once: the tests were timed for 2 cores, and several start processes or threads of their own. */
const CONCURRENCY = 2;

const tiers = process.argv.slice(2);
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
stream.on('test:fail', () => {
  process.exitCode = 1;
});
stream.compose(new spec()).pipe(process.stdout);
