/**
 * The folders under src/ are the pipeline's stages; this is the one table of which stage may
 * import which (the README's Layout shows the same arrows). Every relative import in src/ must
 * follow it, and the table itself must have no cycle, so no folder imports one that imports it back.
 * And the tests' two tiers: every test file is in test/unit/ or test/integration/, which the npm
 * scripts run, and a unit test calls the code in its own process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  data: ['util'],
  backend: ['util'],
  models: ['data', 'util'],
  runs: ['models', 'data', 'util'],
  evaluate: ['runs', 'models', 'data', 'backend', 'util'],
  explain: ['evaluate', 'runs', 'models', 'data', 'backend', 'util'],
  predict: ['runs', 'models', 'data', 'backend', 'util'],
  features: ['runs', 'models', 'data', 'util'],
  train: ['features', 'explain', 'evaluate', 'runs', 'models', 'data', 'backend', 'util'],
  compare: ['train', 'evaluate', 'runs', 'models', 'data', 'backend', 'util'],
  sweep: ['train', 'runs', 'models', 'util'],
  bench: ['train', 'models', 'data', 'backend', 'util'],
  serve: ['sweep', 'compare', 'bench', 'train', 'features', 'predict', 'explain', 'evaluate', 'runs', 'models', 'data', 'backend', 'util'],
  cli: ['serve', 'sweep', 'compare', 'bench', 'train', 'features', 'predict', 'explain', 'evaluate', 'runs', 'models', 'data', 'backend', 'util'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

const SRC = path.join(REPO_ROOT, 'src');

/** [importing folder, imported folder, file] for every relative import that crosses folders. */
function crossFolderImports(): [string, string, string][] {
  const edges: [string, string, string][] = [];
  for (const file of sourceFiles(SRC)) {
    const from = path.relative(SRC, file).split(path.sep)[0];
    if (from.endsWith('.ts')) continue; // src/index.ts, the library entry point, may import any stage
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = path.relative(SRC, path.resolve(path.dirname(file), m[1])).split(path.sep)[0];
      if (target !== from) edges.push([from, target, path.relative(REPO_ROOT, file)]);
    }
  }
  return edges;
}

test('every folder of src/ is in the table', () => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  assert.deepEqual(folders, Object.keys(ALLOWED).sort());
});

test('every import between folders of src/ follows the table', () => {
  const edges = crossFolderImports();
  assert.ok(edges.length > 20, 'the scan finds the imports');
  const bad = edges.filter(([from, to]) => !ALLOWED[from]?.includes(to)).map(([from, to, file]) => `${file}: ${from} -> ${to}`);
  assert.deepEqual(bad, []);
});

test('the table has no cycle: no folder imports one that imports it back', () => {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (f: string, trail: string[]): void => {
    if (state.get(f) === 'done') return;
    assert.notEqual(state.get(f), 'visiting', `cycle: ${[...trail, f].join(' -> ')}`);
    state.set(f, 'visiting');
    for (const t of ALLOWED[f] ?? []) visit(t, [...trail, f]);
    state.set(f, 'done');
  };
  for (const f of Object.keys(ALLOWED)) visit(f, []);
});

/** Every relative import of `file` resolved to a source file (type-only imports included: a cycle of types is still a tangle). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '.ts'));
}

test('within each folder of src/, no two modules import each other, directly or round a loop', () => {
  const files = sourceFiles(SRC);
  const folderOf = (f: string) => path.relative(SRC, f).split(path.sep)[0];
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => folderOf(t) === folderOf(f))]));
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, trail: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') {
      cycles.push([...trail.slice(trail.indexOf(f)), f].map((p) => path.relative(SRC, p)).join(' -> '));
      return;
    }
    state.set(f, 'visiting');
    for (const t of graph.get(f) ?? []) visit(t, [...trail, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(cycles, []);
});

test('one module finds the package root (src/util/package-root.ts): nothing else looks for package.json', () => {
  // A path to a package.json of our own; other packages' (`@tensorflow/${pkg}/package.json`) are theirs.
  const finders = sourceFiles(SRC).filter((f) => /['"`][./]*package\.json['"`]/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(finders.map((f) => path.relative(REPO_ROOT, f)), ['src/util/package-root.ts']);
});

const TEST = path.join(REPO_ROOT, 'test');
const TIERS = ['unit', 'integration'] as const;

test('every test file is in one tier: directly in test/unit/ or test/integration/, none anywhere else under test/', () => {
  const files = sourceFiles(TEST).filter((f) => f.endsWith('.test.ts')).map((f) => path.relative(TEST, f));
  const tierOf = (f: string) => TIERS.filter((t) => path.dirname(f) === t);
  assert.deepEqual(files.filter((f) => tierOf(f).length !== 1), [], 'test files outside the tiers (neither `npm run test:unit` nor `npm run test:integration` would run them)');
  for (const t of TIERS) assert.ok(files.some((f) => tierOf(f)[0] === t), `test/${t}/ holds tests`);
});

test('every compiled test file of the tiers has its source (a moved or deleted test does not linger in dist/ and run)', () => {
  const compiled = path.join(REPO_ROOT, 'dist', 'test');
  const stale = TIERS.flatMap((t) => (existsSync(path.join(compiled, t)) ? readdirSync(path.join(compiled, t)) : []).filter((f) => f.endsWith('.test.js')).map((f) => path.join(t, f)))
    .filter((f) => !existsSync(path.join(TEST, f.replace(/\.js$/, '.ts'))));
  assert.deepEqual(stale, [], 'compiled tests whose source is gone: remove them (rm -r dist/test && npm run build)');
});

test('the npm scripts run the tiers: test:unit and test:integration one each, npm test both (the slow tier first)', () => {
  const { scripts } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  // scripts/run-tests.ts runs the folders of dist/test/ it is given, in that order.
  const folders = (script: string) => [...(scripts[script] ?? '').matchAll(/node dist\/scripts\/run-tests\.js((?: [\w-]+)+)/g)].flatMap((m) => m[1].trim().split(' '));
  assert.deepEqual(folders('test:unit:run'), ['unit']);
  assert.deepEqual(folders('test:integration:run'), ['integration']);
  assert.deepEqual(folders('test'), ['integration', 'unit']);
  for (const script of ['test', 'test:unit', 'test:integration']) assert.match(scripts[script], /^npm run build && /, `${script} builds first`);
});

test('a unit test calls the code in its own process: no CLI as a child process, no API on a socket, no browser, no training run', () => {
  // What the integration tier is for (test/integration/); a unit test calls main(argv), inject(), the stages.
  const OUT_OF_PROCESS = [/\brunCli\(/, /bin\/fashion-cnn\.js/, /\.app\.listen\(/, /playwright|chromium/, /\btrainRun\(/];
  const self = path.join(TEST, 'unit', 'layout.test.ts');
  const offenders = sourceFiles(path.join(TEST, 'unit')).filter((f) => f !== self).flatMap((f) => {
    const text = readFileSync(f, 'utf8');
    return OUT_OF_PROCESS.filter((re) => re.test(text)).map((re) => `${path.relative(REPO_ROOT, f)}: ${re}`);
  });
  assert.deepEqual(offenders, []);
});
