/**
 * The bad-input matrix: every case the CLI is checked against, in one table. The tests
 * (test/unit/reliability.test.ts for the cases that need no process of their own, which run
 * in-process, and test/integration/reliability.test.ts for the others; see runsInProcess in
 * harness.ts) run each
 * and assert its exit code and line; `npm run
 * reliability:doc` runs the same table and writes docs/RELIABILITY.md from what it observes.
 *
 * Conventions of `line`: an error line starts with "fashion-cnn: " and names the file or flag;
 * a predict line for one image is "<file>: error: <reason>".
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { REPO_ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { FIXTURE_NAMES, imagesIdx, labelsIdx, idxBytes, writeFixtureDir, fixtureLabel, type FixtureKey } from '../fixtures/data/idx-fixtures.js';
import { pngClaimingSize, simplePhoto } from '../helpers/predict-fixtures.js';
import { checkpointFolder, copyDir, QUICK_TRAIN, quickTrain } from './fixtures.js';
import type { Case, CaseContext, Invocation } from './harness.js';
import { committedCheckpoint, until as untilHolds } from '../helpers/run-poll.js';
import { writeKerasH5 } from '../helpers/keras-h5-writer.js';

// ---------------------------------------------------------------------------------------------
// helpers

/** What a pipe holds before its writer must wait (Linux). */
const PIPE_BYTES = 64 * 1024;

const PLAIN: Record<FixtureKey, string> = Object.fromEntries(Object.entries(FIXTURE_NAMES).map(([k, v]) => [k, v.replace(/\.gz$/, '')])) as Record<FixtureKey, string>;

/** A tiny data set (30 train, 10 test images, plain IDX) in ctx.dir/data, changed by `damage`. */
async function dataSet(ctx: CaseContext, damage: (file: (k: FixtureKey) => string) => Promise<void> = async () => {}, opts: { gzip?: boolean } = {}): Promise<string> {
  const dir = path.join(ctx.dir, 'data');
  await writeFixtureDir(dir, { gzip: opts.gzip ?? false, trainCount: 30, testCount: 10 });
  await damage((k) => path.join(dir, opts.gzip ? FIXTURE_NAMES[k] : PLAIN[k]));
  return dir;
}

/** `fashion-cnn data` on a damaged data set. */
const dataCmd = (damage: Parameters<typeof dataSet>[1], opts: { gzip?: boolean; verify?: boolean } = {}) => async (ctx: CaseContext) => [
  'data', '--data-dir', await dataSet(ctx, damage, opts), ...(opts.verify ? [] : ['--no-verify']),
];

const noRunDir = (rel: string) => (ctx: CaseContext) => assert.ok(!existsSync(path.join(ctx.dir, rel)), `${rel} was not created`);

/** A copy of the fake run (tiny model, complete record) in ctx.dir/run, changed by `damage`. */
async function fakeRun(ctx: CaseContext, damage: (run: string) => Promise<void> = async () => {}): Promise<string> {
  const run = await copyDir(ctx.fx.fakeRun, path.join(ctx.dir, 'run'));
  await damage(run);
  return run;
}

/** A copy of the real trained cnn1 run in ctx.dir/run, changed by `damage` (given the run and its checkpoint folder). */
async function realRun(ctx: CaseContext, damage: (run: string, ck: string, ctx: CaseContext) => Promise<void> = async () => {}): Promise<string> {
  const run = await copyDir(await ctx.fx.realRun(), path.join(ctx.dir, 'run'));
  await damage(run, await checkpointFolder(run), ctx);
  return run;
}

const dataFlags = (ctx: CaseContext) => ['--data-dir', ctx.fx.dataDir, '--no-verify'];
const evaluateCmd = (damage: (run: string) => Promise<void>) => async (ctx: CaseContext) => ['evaluate', await fakeRun(ctx, damage), ...dataFlags(ctx)];
const predictCmd = (damage: (run: string) => Promise<void>) => async (ctx: CaseContext) => ['predict', await fakeRun(ctx, damage), ctx.fx.photo];
const resumeArgs = (ctx: CaseContext, run: string, ...extra: string[]) => ['train', '--run-dir', run, '--resume', ...dataFlags(ctx), '--no-pictures', '--backend', 'wasm', ...extra];
const resumeCmd = (damage: (run: string, ck: string, ctx: CaseContext) => Promise<void>, ...extra: string[]) => async (ctx: CaseContext) => resumeArgs(ctx, await realRun(ctx, damage), ...extra);

const write = (file: string, data: string | Uint8Array) => fs.writeFile(file, data);
const editJson = async (file: string, edit: (v: Record<string, unknown>) => void) => {
  const v = JSON.parse(await fs.readFile(file, 'utf8'));
  edit(v);
  await fs.writeFile(file, JSON.stringify(v));
};

/** A copy of `bytes` with a span in the middle overwritten by a byte pattern. */
function garble(bytes: Buffer, from = 0.4, to = 0.5): Buffer {
  const out = Buffer.from(bytes);
  for (let i = Math.floor(out.length * from); i < Math.floor(out.length * to); i++) out[i] = (i * 37) & 0xff;
  return out;
}

/** Writes `name` into ctx.dir and returns its path. */
async function image(ctx: CaseContext, name: string, bytes: Buffer | Promise<Buffer>): Promise<string> {
  const file = path.join(ctx.dir, name);
  await fs.writeFile(file, await bytes);
  return file;
}

/** Replaces `file` by a named pipe (a read of it would wait forever for a writer). */
async function fifo(file: string): Promise<void> {
  await fs.rm(file, { force: true, recursive: true });
  const r = spawnSync('mkfifo', [file]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
}

/** A photo's name of 200 characters: the lines that name it are long, so fewer photos fill a pipe (each is classified). */
const LONG_NAME = `a-photo-of-a-garment-${'with-a-long-name-'.repeat(10)}`.slice(0, 191) + '-long-name.png';
/** The fixtures' photo copied into ctx.dir under LONG_NAME. */
const longNamedPhoto = (ctx: CaseContext) => copyDir(ctx.fx.photo, path.join(ctx.dir, LONG_NAME));

const noiseJpeg = () => sharp({ create: { width: 160, height: 120, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
const predictOn = (ctx: CaseContext, ...images: string[]) => ['predict', ctx.fx.fakeRun, ...images];
const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

// ---------------------------------------------------------------------------------------------
// interrupts: a run killed with SIGKILL, then resumed, must end as the uninterrupted run

const INTERRUPT_PROTOCOL = ['--model', 'cnn1', '--epochs', '2', '--aug-epochs', '1', '--batch-size', '32', '--seed', '7', '--no-pictures', '--no-verify', '--backend', 'wasm'];
const INTERRUPT_TRAIN = 800;

interface Straight {
  dataDir: string;
  history: unknown[];
  weights: Buffer;
  /** Mean seconds of an epoch (to aim a kill at the middle of one). */
  epochSeconds: number;
}

const withoutSeconds = (text: string) => lines(text).map((l) => {
  const { seconds: _s, ...rest } = JSON.parse(l) as Record<string, unknown>;
  return rest;
});

let straight: Promise<Straight> | null = null;
/** The uninterrupted run every interrupt case compares with (trained once, in the fixtures' folder). */
function straightRun(ctx: CaseContext): Promise<Straight> {
  straight ??= (async () => {
    const base = path.join(ctx.fx.root, 'interrupt');
    const dataDir = path.join(base, 'data');
    await writeFixtureDir(dataDir, { trainCount: INTERRUPT_TRAIN, testCount: 30 });
    const run = path.join(base, 'straight');
    const r = await runCli(['train', ...INTERRUPT_PROTOCOL, '--data-dir', dataDir, '--run-dir', run], { env: ctx.fx.env, cwd: base, timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`the uninterrupted run failed: ${r.stderr}`);
    const text = await fs.readFile(path.join(run, 'history.jsonl'), 'utf8');
    const rows = lines(text).map((l) => JSON.parse(l) as { seconds: number });
    return {
      dataDir,
      history: withoutSeconds(text),
      weights: await fs.readFile(path.join(run, 'model', 'weights.bin')),
      epochSeconds: rows.reduce((a, r) => a + r.seconds, 0) / rows.length,
    };
  })();
  return straight;
}

const committed = committedCheckpoint;
const until = (pred: () => boolean) => untilHolds(pred, 120_000, 'for the run to reach the moment of the kill');

/** The run being killed: its directory and what it has printed on stderr so far. */
interface Victim {
  run: string;
  stderr: () => string;
}

/**
 * Starts the protocol in ctx.dir/run, waits for `moment`, kills it with SIGKILL, and returns the
 * command that resumes it. `stillCommitted` is what checkpoint/CURRENT must name after the kill
 * (proof that the kill fell where it was aimed).
 */
async function killAndResume(ctx: CaseContext, moment: (v: Victim, s: Straight) => Promise<void>, stillCommitted: RegExp | null): Promise<Invocation> {
  const s = await straightRun(ctx);
  const run = path.join(ctx.dir, 'run');
  const child: ChildProcess = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/fashion-cnn.js'), 'train', ...INTERRUPT_PROTOCOL, '--data-dir', s.dataDir, '--run-dir', run], {
    cwd: ctx.dir, env: { ...process.env, ...ctx.fx.env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = new Promise<string | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  await moment({ run, stderr: () => stderr }, s);
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'the run was killed (it had not finished)');
  const now = committed(run);
  if (stillCommitted === null) assert.equal(now, null, 'killed before its first checkpoint');
  else assert.match(now ?? 'none', stillCommitted, 'killed mid-epoch: the next checkpoint was not committed yet');
  return { args: ['train', '--run-dir', run, '--resume', '--data-dir', s.dataDir, '--no-verify', '--no-pictures', '--backend', 'wasm'] };
}

async function sameAsStraight(ctx: CaseContext): Promise<void> {
  const s = await straightRun(ctx);
  const run = path.join(ctx.dir, 'run');
  assert.deepEqual(withoutSeconds(await fs.readFile(path.join(run, 'history.jsonl'), 'utf8')), s.history, 'the resumed history is the uninterrupted one');
  assert.ok((await fs.readFile(path.join(run, 'model', 'weights.bin'))).equals(s.weights), 'the final weights are the uninterrupted ones');
}

/**
 * Kills a third of the way through the epoch whose progress line (printed as it begins, e.g.
 * "cnn1 phase 1 epoch 2/2: 20 steps") matches `epoch`.
 */
const midEpoch = (epoch: RegExp) => async (v: Victim, s: Straight) => {
  await until(() => epoch.test(v.stderr()));
  await new Promise((r) => setTimeout(r, Math.max(30, s.epochSeconds * 330)));
};

// ---------------------------------------------------------------------------------------------
// concurrency: a second process on a run that a training holds

/** Epochs of a few steps each: a training that outlasts its case (the case's check stops it). */
const LONG_TRAIN = ['--model', 'cnn1', '--epochs', '500', '--aug-epochs', '0', '--batch-size', '32', '--no-pictures', '--no-verify', '--backend', 'wasm'];

/** The trainings running in the background of the cases under way, by case folder. */
const trainers = new Map<string, { child: ChildProcess; ended: () => boolean }>();

/** Stops the case's background training (SIGKILL) and waits until it is gone. */
async function stopTraining(ctx: CaseContext): Promise<void> {
  const t = trainers.get(ctx.dir);
  trainers.delete(ctx.dir);
  if (!t || t.ended()) return;
  const closed = new Promise((r) => t.child.on('close', r));
  t.child.kill('SIGKILL');
  await closed;
}

/**
 * Starts a long training of `runDir` (ctx.dir/run by default) in the background and waits until it
 * has committed its first epoch: it is training then. The case's check stops it (`refusedByTrainer`).
 */
async function trainingInBackground(ctx: CaseContext, runDir = path.join(ctx.dir, 'run')): Promise<string> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/fashion-cnn.js'), 'train', ...LONG_TRAIN, '--data-dir', ctx.fx.dataDir, '--run-dir', runDir], {
    cwd: ctx.dir, env: { ...process.env, ...ctx.fx.env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let ended = false;
  child.stderr?.on('data', (d) => (stderr += d));
  child.on('exit', () => (ended = true));
  trainers.set(ctx.dir, { child, ended: () => ended });
  try {
    await untilHolds(() => ended || committed(runDir) !== null, 120_000, 'for the background training to commit its first epoch');
    if (ended) throw new Error(`the background training ended: ${stderr}`);
    // Paused from here on: it still holds the run (a process that lives), and takes no CPU from the cases beside it.
    child.kill('SIGSTOP');
  } catch (e) {
    await stopTraining(ctx);
    throw e;
  }
  return runDir;
}

/**
 * The check of a command run beside a background training: the training was still running (the
 * command did not disturb it), the refusal names its process; then `more`.
 */
const refusedByTrainer = (more?: (ctx: CaseContext) => Promise<void>) => async (ctx: CaseContext, r: CliResult) => {
  const t = trainers.get(ctx.dir);
  const running = t !== undefined && !t.ended();
  await stopTraining(ctx);
  assert.ok(running, 'the background training was still running');
  assert.match(r.stderr, new RegExp(`is being trained by process ${t.child.pid} `), 'the refusal names the training process');
  await more?.(ctx);
};

/** The refusal of a run that a training holds. */
const REFUSED = (run: string) => new RegExp(`^fashion-cnn: \\S+\\/${run}: is being trained by process \\d+ \\(since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\); wait for it or stop it$`);

/** Writes ctx.dir/run/train.lock naming a process that holds no such lock. */
const staleLock = (holder: (ctx: CaseContext) => Record<string, unknown>) => async (ctx: CaseContext) => {
  const run = await realRun(ctx);
  await write(path.join(run, 'train.lock'), JSON.stringify({ host: os.hostname(), since: '2026-01-01T00:00:00.000Z', ...holder(ctx) }) + '\n');
  return resumeArgs(ctx, run);
};

/** The id of a process that has ended. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid;

const lockReleased = (ctx: CaseContext) => assert.ok(!existsSync(path.join(ctx.dir, 'run', 'train.lock')), 'train.lock is removed when the training ends');

// caches: each case fills a cache of its own (ctx.dir/cache) with a first run, then damages it

const ownCache = (ctx: CaseContext) => ({ FASHION_CNN_CACHE: path.join(ctx.dir, 'cache') });
/** A transfer run on the fixtures' tiny backbone, recorded in ctx.dir/`run`. */
const transferRun = (ctx: CaseContext, run: string) => ['train', '--model', 'transfer', '--backbone', ctx.fx.backbone, ...dataFlags(ctx), '--run-dir', path.join(ctx.dir, run), ...QUICK_TRAIN];

/** Runs the CLI as a case's first run: with the case's own cache, in its folder; returns its stderr. */
async function firstRun(ctx: CaseContext, args: string[], env: Record<string, string>, code: 0 | 2): Promise<string> {
  const r = await runCli(args, { env: { ...ctx.fx.env, ...env }, cwd: ctx.dir, timeoutMs: 120_000 });
  if (r.code !== code) throw new Error(`the first run exited ${r.code}, not ${code}: ${r.stderr}`);
  return r.stderr;
}

type FeatureSet = 'train' | 'val' | 'test';
interface FeatureEntry {
  data: string;
  meta: string;
}

let featureFirst: Promise<{ dir: string; names: Record<FeatureSet, string> }> | null = null;
/**
 * The tiny transfer run every feature-cache case starts from, trained once (in the fixtures'
 * folder: `first`, and the features it cached in `cache`), and the cache entries' file names.
 */
function featureFirstRun(ctx: CaseContext) {
  featureFirst ??= (async () => {
    const dir = path.join(ctx.fx.root, 'feature-first');
    await fs.mkdir(dir);
    const log = await firstRun({ ...ctx, dir }, transferRun({ ...ctx, dir }, 'first'), { FASHION_CNN_CACHE: path.join(dir, 'cache') }, 0);
    const names: Partial<Record<FeatureSet, string>> = {};
    for (const m of log.matchAll(/^features: (train|val|test) \(\d+ images\) computed .*, cached in (\S+)\.f32$/gm)) names[m[1] as FeatureSet] = path.relative(dir, m[2]);
    if (!names.train || !names.val || !names.test) throw new Error(`the first run did not cache its features: ${log}`);
    return { dir, names: names as Record<FeatureSet, string> };
  })();
  return featureFirst;
}

/**
 * The tiny transfer run and the features it cached, copied into ctx.dir (`first`, `cache`); lets
 * `damage` change the entries, and returns the same run again (ctx.dir/run) on that cache.
 */
async function damagedFeatureCache(ctx: CaseContext, damage: (entries: Record<FeatureSet, FeatureEntry>) => Promise<void>): Promise<Invocation> {
  const first = await featureFirstRun(ctx);
  for (const d of ['first', 'cache']) await copyDir(path.join(first.dir, d), path.join(ctx.dir, d));
  const entry = (set: FeatureSet): FeatureEntry => ({ data: path.join(ctx.dir, `${first.names[set]}.f32`), meta: path.join(ctx.dir, `${first.names[set]}.json`) });
  await damage({ train: entry('train'), val: entry('val'), test: entry('test') });
  return { args: transferRun(ctx, 'run'), env: ownCache(ctx) };
}

/** Features of the same size that are not the ones computed: random bytes, or NaNs. */
const randomLike = async (file: string) => write(file, randomBytes((await fs.stat(file)).size));
const nansLike = async (file: string) => write(file, new Uint8Array(new Float32Array((await fs.stat(file)).size / 4).fill(NaN).buffer));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The run on the damaged cache trained as the first did (same history, same test figures), every
 * entry it left matches its digest again, and no temp file is left.
 */
async function trainedAsFirst(ctx: CaseContext): Promise<void> {
  const history = async (run: string) => withoutSeconds(await fs.readFile(path.join(ctx.dir, run, 'history.jsonl'), 'utf8'));
  assert.deepEqual(await history('run'), await history('first'));
  const results = async (run: string) => (JSON.parse(await fs.readFile(path.join(ctx.dir, run, 'eval.json'), 'utf8')) as { results: { test_loss: number; test_acc: number }[] }).results.map((e) => [e.test_loss, e.test_acc]);
  assert.deepEqual(await results('run'), await results('first'));
  const dir = path.join(ctx.dir, 'cache', 'features');
  const names = await fs.readdir(dir);
  assert.deepEqual(names.filter((n) => n.includes('.tmp-')), [], 'no temp file left');
  for (const n of names.filter((f) => f.endsWith('.json'))) {
    if ((await fs.stat(path.join(dir, n))).isDirectory()) continue;
    const meta = JSON.parse(await fs.readFile(path.join(dir, n), 'utf8')) as { sha256: string };
    assert.equal(sha256(await fs.readFile(path.join(dir, n.replace(/\.json$/, '.f32')))), meta.sha256, `${n}: the entry matches its digest`);
  }
}

/** Local HTTP servers of the weights cases, by case folder: closed by the case's check. */
const servers = new Map<string, { requests: string[]; close: () => Promise<void> }>();

/** Serves `files` (URL path -> content) on 127.0.0.1 for the case, counting requests; anything else is a 404. Returns the base URL. */
async function serveFiles(ctx: CaseContext, files: Record<string, Buffer | string>): Promise<string> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = files[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end('no such file');
    else res.writeHead(200, { 'Content-Length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref(); // a case that fails before its check never holds the test process open
  servers.set(ctx.dir, { requests, close: () => new Promise((resolve) => server.close(() => resolve())) });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The requests the case's server saw; the server is closed. */
async function served(ctx: CaseContext): Promise<string[]> {
  const s = servers.get(ctx.dir);
  if (!s) throw new Error('no server for this case');
  servers.delete(ctx.dir);
  await s.close();
  return s.requests;
}

/** A valid Keras weights file (one dense layer) that is not VGG-19's; returns its path. */
async function otherKerasFile(ctx: CaseContext): Promise<string> {
  return writeKerasH5(path.join(ctx.dir, 'other.h5'), [{ name: 'dense', weights: [{ name: 'dense/kernel:0', shape: [2, 2], values: Float32Array.from([1, 2, 3, 4]) }] }]);
}

const KERAS_VGG19_FILE = 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5';
const vgg19Run = (ctx: CaseContext, weights: string, run: string) => ['train', '--model', 'vgg19', '--weights', weights, '--input-size', '32', ...dataFlags(ctx), '--run-dir', path.join(ctx.dir, run), ...QUICK_TRAIN];
const weightsCache = (ctx: CaseContext) => fs.readdir(path.join(ctx.dir, 'cache', 'weights')).catch(() => [] as string[]);

// ---------------------------------------------------------------------------------------------
// the table

export const CASES: Case[] = [
  // ---- data files ------------------------------------------------------------------------------
  { id: 'D01', area: 'data', given: '--data-dir names a folder that does not exist', code: 2, line: /^fashion-cnn: --data-dir \S*\/nowhere: no such directory$/,
    setup: async (ctx) => ['data', '--data-dir', path.join(ctx.dir, 'nowhere')] },
  { id: 'D02', area: 'data', given: '--data-dir names a file, not a folder', code: 2, line: /^fashion-cnn: --data-dir \S*\/a-file: not a directory$/,
    setup: async (ctx) => ['data', '--data-dir', await image(ctx, 'a-file', Buffer.from('x'))] },
  { id: 'D03', area: 'data', given: '$FASHION_MNIST_DIR names a folder that does not exist', code: 2, line: /^fashion-cnn: \$FASHION_MNIST_DIR \S*\/nowhere: no such directory$/,
    setup: async (ctx) => ({ args: ['data'], env: { FASHION_MNIST_DIR: path.join(ctx.dir, 'nowhere') } }) },
  { id: 'D04', area: 'data', given: 'the folder lacks one of the four files', code: 2, line: /^fashion-cnn: --data-dir \S+: missing t10k-labels-idx1-ubyte\.gz \(plain IDX files without \.gz are accepted too\)$/,
    setup: dataCmd((f) => fs.rm(f('testLabels'))) },
  { id: 'D05', area: 'data', given: 'an empty (0-byte) image file', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: too short to be an IDX file \(0 bytes\)$/,
    setup: dataCmd((f) => write(f('trainImages'), '')) },
  { id: 'D06', area: 'data', given: 'an image file cut in the middle of its pixels', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: truncated: header says 30 items of 28x28 bytes \(23520 bytes\) but only 11760 bytes of data$/,
    setup: dataCmd((f) => write(f('trainImages'), imagesIdx(30).subarray(0, 16 + 11760))) },
  { id: 'D07', area: 'data', given: 'an image file cut inside its header', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: truncated: the header declares 3 dimensions but the file has only 10 bytes$/,
    setup: dataCmd((f) => write(f('trainImages'), imagesIdx(30).subarray(0, 10))) },
  { id: 'D08', area: 'data', given: 'a file with a bad magic number (a ZIP archive under the image file\'s name)', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: not an IDX file: bad magic number 0x504b0304 \(expected 0x00000803 for images or 0x00000801 for labels\)$/,
    setup: dataCmd((f) => write(f('trainImages'), Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(100)]))) },
  { id: 'D09', area: 'data', given: 'an IDX file of floats (data type 0x0d) instead of unsigned bytes', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: unsupported IDX data type 0x0d in magic 0x00000d03 \(only unsigned bytes, 0x08, are supported\)$/,
    setup: dataCmd((f) => write(f('trainImages'), idxBytes([30, 28, 28], new Uint8Array(30 * 784), 0x0d))) },
  { id: 'D10', area: 'data', given: 'a label 10 (classes are 0-9) in the training labels', code: 2, line: /^fashion-cnn: train-labels-idx1-ubyte: label 10 of item 3 is out of range 0\.\.9$/,
    setup: dataCmd((f) => write(f('trainLabels'), labelsIdx(Array.from({ length: 30 }, (_, i) => (i === 3 ? 10 : fixtureLabel(i)))))) },
  { id: 'D11', area: 'data', given: '30 training images but 29 labels', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte has 30 images but train-labels-idx1-ubyte has 29 labels$/,
    setup: dataCmd((f) => write(f('trainLabels'), labelsIdx(Array.from({ length: 29 }, (_, i) => fixtureLabel(i))))) },
  { id: 'D12', area: 'data', given: 'test images of 32x32 pixels', code: 2, line: /^fashion-cnn: t10k-images-idx3-ubyte: wrong image size 32x32, expected 28x28$/,
    setup: dataCmd((f) => write(f('testImages'), imagesIdx(10, 32, 32))) },
  { id: 'D13', area: 'data', given: 'a .gz file whose compressed data is damaged in the middle', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte\.gz: corrupt gzip data \(.+\)$/,
    setup: dataCmd(async (f) => write(f('trainImages'), garble(await fs.readFile(f('trainImages')), 0.3, 0.6)), { gzip: true }) },
  { id: 'D14', area: 'data', given: 'a .gz file cut short', code: 2, line: /^fashion-cnn: t10k-images-idx3-ubyte\.gz: corrupt gzip data \(unexpected end of file\)$/,
    setup: dataCmd(async (f) => write(f('testImages'), (await fs.readFile(f('testImages'))).subarray(0, 200)), { gzip: true }) },
  { id: 'D15', area: 'data', given: 'a 65 KB .gz that inflates to 65 MiB (past the 64 MiB cap)', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte\.gz: inflates to more than 64 MiB, larger than any Fashion-MNIST file \(refused\)$/,
    setup: dataCmd((f) => write(f('trainImages'), gzipSync(Buffer.concat([imagesIdx(1).subarray(0, 16), Buffer.alloc(65 * 2 ** 20)]))), { gzip: true }) },
  { id: 'D16', area: 'data', given: 'image and label files that hold zero items', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: holds no images \(the header declares 0 items\)$/,
    setup: dataCmd(async (f) => {
      await write(f('trainImages'), imagesIdx(0));
      await write(f('trainLabels'), labelsIdx([]));
    }) },
  { id: 'D17', area: 'data', given: 'a label file where the image file should be', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: expected an IDX image file \(magic 0x00000803, 3 dimensions\) but found 1 dimension\(s\) \(magic 0x00000801\), a label file\?$/,
    setup: dataCmd(async (f) => fs.copyFile(f('trainLabels'), f('trainImages'))) },
  { id: 'D18', area: 'data', given: 'an image file where the label file should be', code: 2, line: /^fashion-cnn: t10k-labels-idx1-ubyte: expected an IDX label file \(magic 0x00000801, 1 dimension\) but found 3 dimensions \(magic 0x00000803\), an image file\?$/,
    setup: dataCmd(async (f) => fs.copyFile(f('testImages'), f('testLabels'))) },
  { id: 'D19', area: 'data', given: 'an image file with 2 dimensions (magic 0x00000802)', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: expected an IDX image file .* but found 2 dimension\(s\) \(magic 0x00000802\)$/,
    setup: dataCmd((f) => write(f('trainImages'), idxBytes([30, 784], new Uint8Array(30 * 784)))) },
  { id: 'D20', area: 'data', given: 'five bytes of trailing garbage after the labels', code: 2, line: /^fashion-cnn: train-labels-idx1-ubyte: trailing garbage: 5 unexpected bytes after the 30 items the header declares$/,
    setup: dataCmd(async (f) => write(f('trainLabels'), Buffer.concat([await fs.readFile(f('trainLabels')), Buffer.from('junk\n')]))) },
  { id: 'D21', area: 'data', given: 'a header that declares 4,294,967,295 images in a small file', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: truncated: header says 4294967295 items of 28x28 bytes .* but only 23520 bytes of data$/,
    setup: dataCmd(async (f) => {
      const b = imagesIdx(30);
      b.writeUInt32BE(0xffffffff, 4);
      await write(f('trainImages'), b);
    }) },
  { id: 'D22', area: 'data', given: 'files that differ from the official ones, without --no-verify', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: checksum mismatch: MD5 of the uncompressed content is [0-9a-f]{32}, expected f4a8712d7a061bf5bd6d2ca38dc4d50a \(the train images\); use --no-verify to load it anyway$/,
    setup: dataCmd(async () => {}, { verify: true }) },
  { id: 'D23', area: 'data', given: 'a directory named like the image file', code: 2, line: /^fashion-cnn: \S+\/train-images-idx3-ubyte\.gz: is a directory, expected an IDX file$/,
    setup: dataCmd(async (f) => {
      await fs.rm(f('trainImages'));
      await fs.mkdir(f('trainImages'));
    }, { gzip: true }) },
  { id: 'D24', area: 'data', given: 'a .gz file that holds text (neither gzip nor IDX)', code: 2, line: /^fashion-cnn: t10k-labels-idx1-ubyte\.gz: neither gzip data \(no 1f 8b magic\) nor an IDX file \(magic 0x3c68746d\)$/,
    setup: dataCmd((f) => write(f('testLabels'), '<html>Not Found</html>\n'), { gzip: true }) },
  { id: 'D25', area: 'data', given: 'a dangling symbolic link in place of the image file', code: 2, line: /^fashion-cnn: \S+\/train-images-idx3-ubyte: file not found$/,
    setup: dataCmd(async (f) => {
      await fs.rm(f('trainImages'));
      await fs.symlink('/nonexistent/target', f('trainImages'));
    }) },
  { id: 'D26', area: 'data', given: 'a .gz file with garbage after the gzip stream', code: 2, line: /^fashion-cnn: train-labels-idx1-ubyte\.gz: corrupt gzip data \(.+\)$/,
    setup: dataCmd(async (f) => write(f('trainLabels'), Buffer.concat([await fs.readFile(f('trainLabels')), Buffer.from('trailing junk')])), { gzip: true }) },
  { id: 'D27', area: 'data', given: '`train` on a truncated data set: fails before the run directory is made', code: 2, line: /^fashion-cnn: t10k-images-idx3-ubyte: truncated: /,
    setup: async (ctx) => ['train', '--model', 'cnn1', '--run-dir', path.join(ctx.dir, 'run'), '--data-dir', await dataSet(ctx, async (f) => write(f('testImages'), imagesIdx(10).subarray(0, 500))), ...QUICK_TRAIN],
    check: noRunDir('run') },
  { id: 'D28', area: 'data', given: '`evaluate` with a damaged test label file: eval.json is left as it was', code: 2, line: /^fashion-cnn: t10k-labels-idx1-ubyte: label 200 of item 0 is out of range 0\.\.9$/,
    setup: async (ctx) => ['evaluate', await fakeRun(ctx), '--data-dir', await dataSet(ctx, (f) => write(f('testLabels'), labelsIdx(new Array(10).fill(200)))), '--no-verify'],
    check: async (ctx) => assert.equal(await fs.readFile(path.join(ctx.dir, 'run', 'eval.json'), 'utf8'), await fs.readFile(path.join(ctx.fx.fakeRun, 'eval.json'), 'utf8')) },
  { id: 'D29', area: 'data', given: 'a training file of 2 images: nothing is left to validate on, and training goes on without validation', ownProcess: 'it trains a model', code: 0, line: /^cnn1 epoch 1 \[base\] loss \d+\.\d+ acc \d+\.\d+ val_loss n\/a val_acc n\/a/,
    setup: async (ctx) => {
      const dir = path.join(ctx.dir, 'data');
      await writeFixtureDir(dir, { trainCount: 2, testCount: 10 });
      return ['train', '--model', 'cnn1', '--run-dir', path.join(ctx.dir, 'run'), '--data-dir', dir, ...QUICK_TRAIN];
    } },
  { id: 'D30', area: 'data', given: 'a named pipe (FIFO) in place of the label file: refused without reading it (no hang)', code: 2, line: /^fashion-cnn: \S+\/train-labels-idx1-ubyte: not a regular file \(a pipe or device\?\), expected an IDX file$/,
    setup: dataCmd((f) => fifo(f('trainLabels'))), timeoutMs: 30_000 },
  { id: 'D31', area: 'data', given: 'a 100 MiB image file (sparse): refused before it is read', code: 2, line: /^fashion-cnn: train-images-idx3-ubyte: 100 MiB, larger than any Fashion-MNIST file \(at most 64 MiB; refused\)$/,
    setup: dataCmd((f) => fs.truncate(f('trainImages'), 100 * 2 ** 20)) },

  // ---- images for predict ----------------------------------------------------------------------
  { id: 'P01', area: 'predict', given: 'an image file that does not exist', code: 1, line: /^\S+\/missing\.jpg: error: no such file$/,
    setup: async (ctx) => predictOn(ctx, path.join(ctx.dir, 'missing.jpg')) },
  { id: 'P02', area: 'predict', given: 'an empty file', code: 1, line: /^\S+\/empty\.jpg: error: empty file$/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'empty.jpg', Buffer.alloc(0))) },
  { id: 'P03', area: 'predict', given: 'a text file named .jpg', code: 1, line: /^\S+\/text\.jpg: error: not an image \(unrecognised or unsupported format\)$/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'text.jpg', Buffer.from('this is not a picture\n'))) },
  { id: 'P04', area: 'predict', given: 'a JPEG cut in half', code: 1, line: /^\S+\/truncated\.jpg: error: (truncated or corrupt image \(its data ends early\)|corrupt or truncated image data)$/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'truncated.jpg', noiseJpeg().then((b) => b.subarray(0, b.length >> 1)))) },
  { id: 'P05', area: 'predict', given: 'a JPEG with a tenth of its data overwritten', code: 1, line: /^\S+\/corrupt\.jpg: error: (truncated or )?corrupt/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'corrupt.jpg', noiseJpeg().then((b) => garble(b)))) },
  { id: 'P06', area: 'predict', given: 'a 1x1 PNG', code: 1, line: /^\S+\/tiny\.png: error: image too small: 1x1 pixels \(at least 8x8 needed to see a garment\)$/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'tiny.png', sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer())) },
  { id: 'P07', area: 'predict', given: 'a blank uniform grey image', code: 1, line: /^\S+\/blank\.png: error: no object stands out from the background \(a blank or uniform image\?\)$/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'blank.png', sharp({ create: { width: 200, height: 150, channels: 3, background: '#a0a0a0' } }).png().toBuffer())) },
  { id: 'P08', area: 'predict', given: 'a 200-byte PNG whose header claims 100000x100000 pixels', code: 1, line: /^\S+\/huge\.png: error: image too large: 100000x100000 = 10000\.0 megapixels \(limit 50\)$/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'huge.png', pngClaimingSize(100_000, 100_000))) },
  { id: 'P09', area: 'predict', given: 'a 51 MB file (over the 50 MB limit)', code: 1, line: /^\S+\/big\.jpg: error: file too large: 51\.0 MB \(limit 50\.0 MB\)$/,
    setup: async (ctx) => {
      const file = path.join(ctx.dir, 'big.jpg');
      await fs.writeFile(file, await noiseJpeg());
      await fs.truncate(file, 51 * 1024 * 1024); // sparse: costs no disk
      return predictOn(ctx, file);
    } },
  { id: 'P10', area: 'predict', given: 'a directory named like an image', code: 1, line: /^\S+\/folder\.jpg: error: is a directory, not an image$/,
    setup: async (ctx) => {
      await fs.mkdir(path.join(ctx.dir, 'folder.jpg'));
      return predictOn(ctx, path.join(ctx.dir, 'folder.jpg'));
    } },
  { id: 'P11', area: 'predict', given: 'a named pipe (FIFO) named like an image: refused without reading it (no hang)', code: 1, line: /^\S+\/pipe\.jpg: error: not a regular file$/,
    setup: async (ctx) => {
      await fifo(path.join(ctx.dir, 'pipe.jpg'));
      return predictOn(ctx, path.join(ctx.dir, 'pipe.jpg'));
    }, timeoutMs: 30_000 },
  { id: 'P12', area: 'predict', given: 'an SVG whose canvas is 100000x100000', code: 1, line: /^\S+\/canvas\.svg: error: image too large: 100000x100000 = 10000\.0 megapixels \(limit 50\)$/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'canvas.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="10" height="10"/></svg>'))) },
  { id: 'P13', area: 'predict', given: 'one bad image between two good ones: the good ones are still classified', code: 1, line: /^fashion-cnn: 1 of 3 images could not be classified$/,
    setup: async (ctx) => predictOn(ctx, ctx.fx.photo, await image(ctx, 'bad.jpg', Buffer.from('junk')), await image(ctx, 'good.jpg', simplePhoto('jpeg'))),
    check: (ctx, r) => {
      const out = lines(r.stdout);
      assert.equal(out.length, 2, 'two images classified on stdout');
      assert.match(out[0], /garment\.png: \S.* \d+\.\d%, .* \d+\.\d%, .* \d+\.\d%$/);
      assert.match(out[1], /good\.jpg: /);
    } },
  { id: 'P14', area: 'predict', given: 'every image bad: nothing on stdout', code: 1, line: /^fashion-cnn: 2 of 2 images could not be classified$/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'a.jpg', Buffer.from('junk')), path.join(ctx.dir, 'b.png')),
    check: (_ctx, r) => assert.equal(r.stdout, '') },
  { id: 'P15', area: 'predict', given: '--json with a bad image: the JSON says which, stderr counts the failures', code: 1, line: /^fashion-cnn: 1 of 2 images could not be classified$/,
    setup: async (ctx) => [...predictOn(ctx, ctx.fx.photo, await image(ctx, 'bad.png', Buffer.from('junk'))), '--json'],
    check: (_ctx, r) => {
      const doc = JSON.parse(r.stdout) as { ok: boolean; error?: string }[];
      assert.deepEqual(doc.map((d) => d.ok), [true, false]);
      assert.match(doc[1].error ?? '', /not an image/);
    } },
  { id: 'P16', area: 'predict', given: 'an image name with a newline in it: still one line', code: 1, line: /^\S+\/"two\\nlines\.jpg": error: no such file$|^\S+\/two\\nlines\.jpg: error: no such file$/,
    setup: async (ctx) => predictOn(ctx, path.join(ctx.dir, 'two\nlines.jpg')) },
  { id: 'P17', area: 'predict', given: '--top 0', code: 2, line: /^fashion-cnn: option '--top <k>' argument '0' is invalid\. expected a positive integer, got "0"/,
    setup: async (ctx) => [...predictOn(ctx, ctx.fx.photo), '--top', '0'] },
  { id: 'P18', area: 'predict', given: '--top 11 (there are 10 classes)', code: 2, line: /^fashion-cnn: --top must be at most 10 \(and at least 1\), got 11$/,
    setup: async (ctx) => [...predictOn(ctx, ctx.fx.photo), '--top', '11'] },
  { id: 'P19', area: 'predict', given: '--save-preprocessed names an existing file', code: 2, line: /^fashion-cnn: --save-preprocessed \S+\/taken\.txt: exists and is not a folder$/,
    setup: async (ctx) => [...predictOn(ctx, ctx.fx.photo), '--save-preprocessed', await image(ctx, 'taken.txt', Buffer.from('x'))] },
  { id: 'P20', area: 'predict', given: '--save-preprocessed with one bad image: only the good image\'s frames are written', code: 1, line: /^\S+\/bad\.jpg: error: not an image/,
    setup: async (ctx) => [...predictOn(ctx, ctx.fx.photo, await image(ctx, 'bad.jpg', Buffer.from('junk'))), '--save-preprocessed', path.join(ctx.dir, 'seen')],
    check: async (ctx) => assert.deepEqual((await fs.readdir(path.join(ctx.dir, 'seen'))).sort(), ['garment.png', 'garment.x8.png']) },
  { id: 'P21', area: 'predict', given: 'no image argument', code: 2, line: /^fashion-cnn: missing required argument 'images'/,
    setup: async (ctx) => ['predict', ctx.fx.fakeRun] },
  { id: 'P22', area: 'predict', given: 'a PNG whose pixel data is damaged', code: 1, line: /^\S+\/damaged\.png: error: (corrupt|truncated)/,
    setup: async (ctx) => predictOn(ctx, await image(ctx, 'damaged.png', sharp({ create: { width: 120, height: 90, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer().then((b) => garble(b, 0.5, 0.55)))) },
  { id: 'P23', area: 'predict', given: '--save-preprocessed inside a file', code: 2, line: /^fashion-cnn: --save-preprocessed \S+\/taken\.txt\/seen: cannot be made \(ENOTDIR: not a directory, mkdir '\S+'\)$/,
    setup: async (ctx) => [...predictOn(ctx, ctx.fx.photo), '--save-preprocessed', path.join(await image(ctx, 'taken.txt', Buffer.from('x')), 'seen')] },
  { id: 'P24', area: 'predict', given: '--save-preprocessed under /proc, where no folder can be made (Node\'s recursive mkdir loops forever there): no hang', code: 2, line: /^fashion-cnn: --save-preprocessed \/proc\/fashion-cnn-nowhere\/seen: cannot be made \(ENOENT: /,
    setup: async (ctx) => [...predictOn(ctx, ctx.fx.photo), '--save-preprocessed', '/proc/fashion-cnn-nowhere/seen'], timeoutMs: 30_000 },

  // ---- flags -------------------------------------------------------------------------------------
  { id: 'F01', area: 'flags', given: 'an unknown command', args: ['fly'], code: 2, line: /^fashion-cnn: unknown command 'fly'/ },
  { id: 'F02', area: 'flags', given: 'an unknown option, close to a real one', args: ['train', '--model', 'cnn1', '--epoch', '3'], code: 2, line: /^fashion-cnn: unknown option '--epoch' \(Did you mean --epochs\?\)/ },
  { id: 'F03', area: 'flags', given: 'train without --model', args: ['train'], code: 2, line: /^fashion-cnn: train needs --model \(one of cnn1, cnn3, cnn4, best, best-wide, resnet-mini, vgg19, darknet-transfer, transfer\)$/ },
  { id: 'F04', area: 'flags', given: 'an unknown model', args: ['train', '--model', 'resnet'], code: 2, line: /^fashion-cnn: unknown model "resnet" \(choose one of cnn1, cnn3, cnn4, best, best-wide, resnet-mini, vgg19, darknet-transfer, transfer\)$/ },
  { id: 'F05', area: 'flags', given: 'train --model vgg19 with a --weights file that does not exist: refused before any data is loaded', args: ['train', '--model', 'vgg19', '--weights', 'nowhere.h5'], code: 2, line: /^fashion-cnn: vgg19: weights file \S*nowhere\.h5 does not exist$/ },
  { id: 'F06', area: 'flags', given: 'compare --models vgg19 without its ImageNet weights: one line on how to get them, and the comparison goes on (success)', code: 0, line: /^== vgg19: skipped, vgg19 needs Keras's ImageNet weights \(vgg19_weights_tf_dim_ordering_tf_kernels_notop\.h5, 80 MB\): set \$FASHION_CNN_VGG19_WEIGHTS/,
    setup: async (ctx) => ({ args: ['compare', '--models', 'vgg19', ...dataFlags(ctx), '--out', path.join(ctx.dir, 'cmp')], env: { FASHION_CNN_CACHE: path.join(ctx.dir, 'cache'), FASHION_CNN_VGG19_WEIGHTS: '' } }) },
  { id: 'F07', area: 'flags', given: 'compare with an unknown model', args: ['compare', '--models', 'cnn1,resnet'], code: 2, line: /^fashion-cnn: unknown model "resnet"/ },
  { id: 'F08', area: 'flags', given: 'an unknown --backend', args: ['train', '--model', 'cnn1', '--backend', 'gpu'], code: 2, line: /^fashion-cnn: option '--backend <name>' argument 'gpu' is invalid\. Allowed choices are native, wasm, cpu\./ },
  { id: 'F09', area: 'flags', given: 'an unknown backend in $FASHION_CNN_BACKEND', code: 2, line: /^fashion-cnn: FASHION_CNN_BACKEND: unknown backend "gpu" \(choose one of native, wasm, cpu\)$/,
    setup: async (ctx) => ({ args: ['train', '--model', 'cnn1', ...dataFlags(ctx), '--run-dir', path.join(ctx.dir, 'run')], env: { FASHION_CNN_BACKEND: 'gpu' } }), check: noRunDir('run') },
  { id: 'F10', area: 'flags', given: 'an unknown --optimizer', args: ['train', '--model', 'cnn1', '--optimizer', 'rmsprop'], code: 2, line: /^fashion-cnn: option '--optimizer <name>' argument 'rmsprop' is invalid\. Allowed choices are adam, adamw, sgd\./ },
  { id: 'F11', area: 'flags', given: '--epochs -3', args: ['train', '--model', 'cnn1', '--epochs', '-3'], code: 2, line: /^fashion-cnn: option '--epochs <n>' argument '-3' is invalid\. expected a non-negative integer, got "-3"/ },
  { id: 'F12', area: 'flags', given: '--epochs 2.5', args: ['train', '--model', 'cnn1', '--epochs', '2.5'], code: 2, line: /^fashion-cnn: option '--epochs <n>' argument '2\.5' is invalid\. expected a non-negative integer/ },
  { id: 'F13', area: 'flags', given: '--batch-size 0', args: ['train', '--model', 'cnn1', '--batch-size', '0'], code: 2, line: /^fashion-cnn: option '--batch-size <n>' argument '0' is invalid\. expected a positive integer, got "0"/ },
  { id: 'F14', area: 'flags', given: '--batch-size big', args: ['train', '--model', 'cnn1', '--batch-size', 'big'], code: 2, line: /^fashion-cnn: option '--batch-size <n>' argument 'big' is invalid\. expected a positive integer/ },
  { id: 'F15', area: 'flags', given: '--lr 0', args: ['train', '--model', 'cnn1', '--lr', '0'], code: 2, line: /^fashion-cnn: option '--lr <rate>' argument '0' is invalid\. expected a positive number, got "0"/ },
  { id: 'F16', area: 'flags', given: '--lr fast', args: ['train', '--model', 'cnn1', '--lr', 'fast'], code: 2, line: /^fashion-cnn: option '--lr <rate>' argument 'fast' is invalid\. expected a positive number/ },
  { id: 'F17', area: 'flags', given: '--val-split 1.5', args: ['train', '--model', 'cnn1', '--val-split', '1.5'], code: 2, line: /^fashion-cnn: option '--val-split <fraction>' argument '1\.5' is invalid\. expected a number from 0 to 1/ },
  { id: 'F18', area: 'flags', given: '--val-split 1 (nothing left to train on)', args: ['train', '--model', 'cnn1', '--val-split', '1'], code: 2, line: /^fashion-cnn: option '--val-split <fraction>' argument '1' is invalid\. expected a number below 1/ },
  { id: 'F19', area: 'flags', given: '--label-smoothing 1', args: ['train', '--model', 'cnn1', '--label-smoothing', '1'], code: 2, line: /^fashion-cnn: option '--label-smoothing <s>' argument '1' is invalid\. expected a number below 1/ },
  { id: 'F20', area: 'flags', given: '--optimizer sgd --momentum 1.5', args: ['train', '--model', 'cnn1', '--optimizer', 'sgd', '--momentum', '1.5'], code: 2, line: /^fashion-cnn: option '--momentum <m>' argument '1\.5' is invalid\. expected a number from 0 to 1/ },
  { id: 'F21', area: 'flags', given: '--weight-decay with the default optimizer (adam)', args: ['train', '--model', 'cnn1', '--weight-decay', '0.1'], code: 2, line: /^fashion-cnn: --weight-decay is for --optimizer adamw or sgd, not adam$/ },
  { id: 'F22', area: 'flags', given: '--momentum with --optimizer adamw', args: ['train', '--model', 'cnn1', '--optimizer', 'adamw', '--momentum', '0.9'], code: 2, line: /^fashion-cnn: --momentum and --nesterov are for --optimizer sgd, not adamw$/ },
  { id: 'F23', area: 'flags', given: '--nesterov with the default optimizer', args: ['train', '--model', 'cnn1', '--nesterov'], code: 2, line: /^fashion-cnn: --momentum and --nesterov are for --optimizer sgd, not adam$/ },
  { id: 'F24', area: 'flags', given: '--epochs 0 --aug-epochs 0 (nothing to train)', args: ['train', '--model', 'cnn1', '--epochs', '0', '--aug-epochs', '0'], code: 2, line: /^fashion-cnn: nothing to train: --epochs and --aug-epochs are both 0$/ },
  { id: 'F25', area: 'flags', given: '--lr-schedule wobble', args: ['train', '--model', 'cnn1', '--lr-schedule', 'wobble'], code: 2, line: /^fashion-cnn: --lr-schedule: cannot read "wobble" \(expected constant \| step:EVERY:FACTOR/ },
  { id: 'F26', area: 'flags', given: '--lr-schedule step:2:1.5 (a factor that grows the rate)', args: ['train', '--model', 'cnn1', '--lr-schedule', 'step:2:1.5'], code: 2, line: /^fashion-cnn: --lr-schedule: cannot read "step:2:1\.5"/ },
  { id: 'F27', area: 'flags', given: '--limit 0', args: ['train', '--model', 'cnn1', '--limit', '0'], code: 2, line: /^fashion-cnn: option '--limit <n>' argument '0' is invalid\. expected a positive integer/ },
  { id: 'F28', area: 'flags', given: '--early-stop 0', args: ['train', '--model', 'cnn1', '--early-stop', '0'], code: 2, line: /^fashion-cnn: option '--early-stop <patience>' argument '0' is invalid\. expected a positive integer/ },
  { id: 'F29', area: 'flags', given: '--shear-unit gradians', args: ['train', '--model', 'cnn1', '--shear-unit', 'gradians'], code: 2, line: /^fashion-cnn: option '--shear-unit <unit>' argument 'gradians' is invalid\. Allowed choices are degrees, radians\./ },
  { id: 'F30', area: 'flags', given: '--interpolation cubic', args: ['train', '--model', 'cnn1', '--interpolation', 'cubic'], code: 2, line: /^fashion-cnn: option '--interpolation <mode>' argument 'cubic' is invalid\. Allowed choices are nearest, bilinear\./ },
  { id: 'F31', area: 'flags', given: '--model without its value', args: ['train', '--model'], code: 2, line: /^fashion-cnn: option '--model <name>' argument missing/ },
  { id: 'F32', area: 'flags', given: 'evaluate without RUN_DIR', args: ['evaluate'], code: 2, line: /^fashion-cnn: missing required argument 'run-dir'/ },
  { id: 'F33', area: 'flags', given: 'an extra argument to `models`', args: ['models', 'cnn1'], code: 2, line: /^fashion-cnn: too many arguments for 'models'/ },
  { id: 'F34', area: 'flags', given: 'compare --models with an empty list', args: ['compare', '--models', ','], code: 2, line: /^fashion-cnn: option '--models <list>' argument ',' is invalid\. expected a comma-separated list/ },
  { id: 'F35', area: 'flags', given: 'compare --epochs 0 --aug-epochs 0', args: ['compare', '--epochs', '0', '--aug-epochs', '0'], code: 2, line: /^fashion-cnn: nothing to train: --epochs and --aug-epochs are both 0$/ },
  { id: 'F36', area: 'flags', given: '--lr 1e30: the model diverges (its validation loss is NaN)', ownProcess: 'it trains a model until it diverges', code: 2, line: /^fashion-cnn: training diverged: the (validation )?loss is NaN .*\(try a lower --lr\)$/,
    setup: async (ctx) => ['train', '--model', 'cnn1', '--lr', '1e30', ...dataFlags(ctx), '--run-dir', path.join(ctx.dir, 'run'), ...quickTrain(2)] },
  { id: 'F37', area: 'flags', given: 'embed with neither RUN_DIR nor --pixels', args: ['embed'], code: 2, line: /^fashion-cnn: embed needs RUN_DIR \(a trained run\) or --pixels \(raw images\)$/ },
  { id: 'F38', area: 'flags', given: 'embed RUN_DIR --pixels', code: 2, line: /^fashion-cnn: give either RUN_DIR or --pixels, not both$/, setup: async (ctx) => ['embed', ctx.fx.fakeRun, '--pixels'] },
  { id: 'F39', area: 'flags', given: 'embed --perplexity with --method pca', args: ['embed', '--pixels', '--perplexity', '5'], code: 2, line: /^fashion-cnn: --perplexity applies to --method tsne, not pca$/ },
  { id: 'F40', area: 'flags', given: 'embed --method isomap', args: ['embed', '--pixels', '--method', 'isomap'], code: 2, line: /^fashion-cnn: option '--method <method>' argument 'isomap' is invalid\. Allowed choices are pca, tsne, umap, custom\./ },
  { id: 'F41', area: 'flags', given: 'embed --dims 4', args: ['embed', '--pixels', '--dims', '4'], code: 2, line: /^fashion-cnn: option '--dims <n>' argument '4' is invalid\. Allowed choices are 2, 3\./ },
  { id: 'F42', area: 'flags', given: 'embed --count 20000', args: ['embed', '--pixels', '--count', '20000'], code: 2, line: /^fashion-cnn: --count must be an integer from 1 to 10000, got 20000$/ },
  { id: 'F43', area: 'flags', given: 'embed --components 1,x', args: ['embed', '--pixels', '--components', '1,x'], code: 2, line: /^fashion-cnn: --components: expected component numbers like 1,2,3, got "x"$/ },
  { id: 'F44', area: 'flags', given: 'embed --components 1,2,3,4', args: ['embed', '--pixels', '--components', '1,2,3,4'], code: 2, line: /^fashion-cnn: --components lists 4 components; a projection has 2 or 3 dimensions$/ },
  { id: 'F45', area: 'flags', given: 'embed --components 0,11', args: ['embed', '--pixels', '--components', '0,11'], code: 2, line: /^fashion-cnn: --components: each must be an integer from 1 to 10, got 0$/ },
  { id: 'F46', area: 'flags', given: 'embed --method custom with only --left', args: ['embed', '--pixels', '--method', 'custom', '--left', 'sandal'], code: 2, line: /^fashion-cnn: --method custom needs --left and --right/ },
  { id: 'F47', area: 'flags', given: 'embed --method custom with an invalid regular expression', args: ['embed', '--pixels', '--method', 'custom', '--left', 'shirt', '--right', '('], code: 2, line: /^fashion-cnn: --right "\(" is not a valid regular expression$/ },
  { id: 'F48', area: 'flags', given: 'embed --up without --down', args: ['embed', '--pixels', '--method', 'custom', '--left', 'shirt', '--right', 'boot', '--up', 'bag'], code: 2, line: /^fashion-cnn: --up and --down go together: give both or neither$/ },
  { id: 'F49', area: 'flags', given: 'embed --pixels --layer', args: ['embed', '--pixels', '--layer', 'hidden'], code: 2, line: /^fashion-cnn: --layer needs RUN_DIR/ },
  { id: 'F50', area: 'flags', given: 'embed --theta -1', args: ['embed', '--pixels', '--method', 'tsne', '--theta', '-1'], code: 2, line: /^fashion-cnn: option '--theta <t>' argument '-1' is invalid\. expected a non-negative number/ },
  { id: 'F51', area: 'flags', given: 'embed --split train', args: ['embed', '--pixels', '--split', 'train'], code: 2, line: /^fashion-cnn: option '--split <split>' argument 'train' is invalid\. Allowed choices are test, val\./ },
  { id: 'F52', area: 'flags', given: 'embed t-SNE of 60 points with the default perplexity 30', args: ['embed', '--pixels', '--method', 'tsne', '--count', '60'], code: 2, line: /^fashion-cnn: --perplexity 30 is too large for 60 points \(needs 3 x perplexity < N\); use at most 19$/ },
  { id: 'F53', area: 'flags', given: 'embed UMAP with --neighbors 1', args: ['embed', '--pixels', '--method', 'umap', '--neighbors', '1'], code: 2, line: /^fashion-cnn: --neighbors must be an integer from 2 to 2499, got 1$/ },
  { id: 'F54', area: 'flags', given: 'embed RUN_DIR --layer that the model lacks', code: 2, line: /^fashion-cnn: unknown layer "nope" \(layers: flat, hidden, out\)$/,
    setup: async (ctx) => ['embed', ctx.fx.fakeRun, '--layer', 'nope', '--count', '20', ...dataFlags(ctx), '--out', path.join(ctx.dir, 'out')] },
  { id: 'F55', area: 'flags', given: 'bench --backends native,gpu', args: ['bench', '--backends', 'native,gpu'], code: 2, line: /^fashion-cnn: option '--backends <list>' argument 'native,gpu' is invalid\. unknown backend "gpu" \(choose from native, wasm, cpu\)/ },
  { id: 'F56', area: 'flags', given: 'bench --models cnn1,resnet', args: ['bench', '--models', 'cnn1,resnet'], code: 2, line: /^fashion-cnn: unknown model "resnet"/ },
  { id: 'F57', area: 'flags', given: 'a transfer model\'s option for a model that is not one', args: ['train', '--model', 'cnn1', '--input-size', '48'], code: 2, line: /^fashion-cnn: --input-size: for transfer models only \(vgg19, darknet-transfer, transfer\); cnn1 is a layers model$/ },
  { id: 'F69', area: 'flags', given: 'train --model darknet-transfer --backbone names a folder without a model', code: 2, line: /^fashion-cnn: darknet-transfer: backbone not found: \S+\/empty\/model\.json does not exist$/,
    setup: async (ctx) => {
      await fs.mkdir(path.join(ctx.dir, 'empty'));
      return ['train', '--model', 'darknet-transfer', '--backbone', path.join(ctx.dir, 'empty')];
    } },
  { id: 'F58', area: 'flags', given: 'bench --rounds 0', args: ['bench', '--rounds', '0'], code: 2, line: /^fashion-cnn: option '--rounds <n>' argument '0' is invalid\. expected a positive integer/ },
  { id: 'F59', area: 'flags', given: 'bench --steps many', args: ['bench', '--steps', 'many'], code: 2, line: /^fashion-cnn: option '--steps <n>' argument 'many' is invalid\. expected a positive integer/ },
  { id: 'F60', area: 'flags', given: 'bench --data-dir that does not exist', code: 2, line: /^fashion-cnn: --data-dir \S*\/nowhere: no such directory$/,
    setup: async (ctx) => ['bench', '--models', 'cnn1', '--backends', 'wasm', '--no-torch', '--data-dir', path.join(ctx.dir, 'nowhere')] },
  { id: 'F61', area: 'flags', given: 'embed --out names an existing file', code: 2, line: /^fashion-cnn: --out \S+\/taken: exists and is not a folder$/,
    setup: async (ctx) => ['embed', '--pixels', '--count', '20', ...dataFlags(ctx), '--out', await image(ctx, 'taken', Buffer.from('x'))] },
  { id: 'F62', area: 'flags', given: 'embed --out under /proc: no hang, and nothing computed first', code: 2, line: /^fashion-cnn: --out \/proc\/fashion-cnn-nowhere: cannot be made \(ENOENT: /,
    setup: async (ctx) => ['embed', '--pixels', '--count', '20', ...dataFlags(ctx), '--out', '/proc/fashion-cnn-nowhere'], timeoutMs: 30_000 },
  { id: 'F63', area: 'flags', given: 'embed --out with a flag error found by the stage: the --out folder made for it is removed again', code: 2, line: /^fashion-cnn: --perplexity 30 is too large for 20 points/,
    setup: async (ctx) => ['embed', '--pixels', '--method', 'tsne', '--count', '20', ...dataFlags(ctx), '--out', path.join(ctx.dir, 'out')], check: noRunDir('out') },
  { id: 'F70', area: 'flags', given: '--val-split 0 --early-stop 3 (nothing to watch)', args: ['train', '--model', 'cnn1', '--val-split', '0', '--early-stop', '3'], code: 2, line: /^fashion-cnn: --early-stop watches the validation loss: it needs a validation split \(--val-split above 0\)$/ },
  { id: 'F71', area: 'flags', given: '--ema 1 (an average that never moves)', args: ['train', '--model', 'best', '--ema', '1'], code: 2, line: /^fashion-cnn: option '--ema <decay>' argument '1' is invalid\. expected a number between 0 and 1/ },
  { id: 'F64', area: 'flags', given: '--erase 1.5', args: ['train', '--model', 'best', '--erase', '1.5'], code: 2, line: /^fashion-cnn: option '--erase <p>' argument '1\.5' is invalid/ },
  { id: 'F65', area: 'flags', given: '--crop-pad -2', args: ['train', '--model', 'best', '--crop-pad', '-2'], code: 2, line: /^fashion-cnn: option '--crop-pad <px>' argument '-2' is invalid\. expected a non-negative integer/ },
  { id: 'F66', area: 'flags', given: 'an unknown --tta', args: ['train', '--model', 'best', '--tta', 'rotate'], code: 2, line: /^fashion-cnn: option '--tta <mode>' argument 'rotate' is invalid\. Allowed choices are none, flip\./ },
  { id: 'F67', area: 'flags', given: 'a one-cycle warm-up of the whole run', args: ['train', '--model', 'best', '--lr-schedule', 'onecycle:1'], code: 2, line: /^fashion-cnn: --lr-schedule: cannot read "onecycle:1"/ },
  { id: 'F68', area: 'flags', given: 'best with --aug-epochs 0 (its recipe has no clean epochs: nothing to train)', args: ['train', '--model', 'best', '--aug-epochs', '0'], code: 2, line: /^fashion-cnn: nothing to train: --epochs and --aug-epochs are both 0$/ },
  { id: 'G01', area: 'flags', given: 'train --model vgg19 --weights file:///…: read as the file the URL names (here Keras weights of another model, which the load names)', code: 2, line: /^fashion-cnn: \S+\/other\.h5 has no weights for the model's layers block1_conv1, /,
    setup: async (ctx) => vgg19Run(ctx, pathToFileURL(await otherKerasFile(ctx)).href, 'run'), check: noRunDir('run/model') },
  { id: 'G02', area: 'flags', given: 'train --model vgg19 --weights names a folder', code: 2, line: /^fashion-cnn: vgg19: weights file \S+\/weights is a directory, not a file$/,
    setup: async (ctx) => {
      await fs.mkdir(path.join(ctx.dir, 'weights'));
      return vgg19Run(ctx, path.join(ctx.dir, 'weights'), 'run');
    } },
  { id: 'G03', area: 'flags', given: 'train --model vgg19 --weights names a named pipe (no hang)', code: 2, line: /^fashion-cnn: vgg19: weights file \S+\/weights\.h5 is a named pipe \(FIFO\), not a file$/,
    setup: async (ctx) => {
      await fifo(path.join(ctx.dir, 'weights.h5'));
      return vgg19Run(ctx, path.join(ctx.dir, 'weights.h5'), 'run');
    }, timeoutMs: 30_000 },
  { id: 'G04', area: 'flags', given: 'train --model vgg19 --weights /dev/zero (no endless read)', code: 2, line: /^fashion-cnn: vgg19: weights file \/dev\/zero is a device, not a file$/,
    setup: async (ctx) => vgg19Run(ctx, '/dev/zero', 'run'), timeoutMs: 30_000 },
  { id: 'G05', area: 'flags', given: '--lr-schedule cosine:5 --lr 0.001 (a "decay" that climbs to 5)', code: 2, line: /^fashion-cnn: --lr-schedule cosine:5: the rate it decays to is above the base rate --lr 0\.001; give a final rate below --lr \(or a higher --lr\)$/,
    setup: async (ctx) => ['train', '--model', 'cnn1', '--lr-schedule', 'cosine:5', '--lr', '0.001', ...dataFlags(ctx), '--run-dir', path.join(ctx.dir, 'run'), ...QUICK_TRAIN], check: noRunDir('run') },
  { id: 'G06', area: 'flags', given: '--crop-pad 1000 (crops of black)', code: 2, line: /^fashion-cnn: --crop-pad 1000: at most 14 pixels for 28x28 images \(half their side; a larger pad crops mostly black\)$/,
    setup: async (ctx) => ['train', '--model', 'best', '--crop-pad', '1000', ...dataFlags(ctx), '--run-dir', path.join(ctx.dir, 'run'), ...QUICK_TRAIN], check: noRunDir('run') },
  { id: 'G07', area: 'flags', given: '--crop-pad 100000000000000000000 (1e20 once parsed)', code: 2, line: /^fashion-cnn: --crop-pad 100000000000000000000: at most 14 pixels for 28x28 images/,
    setup: async (ctx) => ['train', '--model', 'best', '--crop-pad', '100000000000000000000', ...dataFlags(ctx), '--run-dir', path.join(ctx.dir, 'run'), ...QUICK_TRAIN], check: noRunDir('run') },
  { id: 'G08', area: 'flags', given: '--input-size 1 on a TF.js backbone (a stride-2 convolution and a 2x2 pooling before its features)', code: 2, line: /^fashion-cnn: backbone \S+\/tiny-backbone: --input-size 1 is too small: its downsampling up to layer "c2" needs images of at least 4 pixels$/,
    setup: async (ctx) => [...transferRun(ctx, 'run'), '--input-size', '1'], check: noRunDir('run/model') },
  { id: 'G09', area: 'flags', given: 'predict --preprocess paper on a 20000x20 image (2048x2 once loaded): the line mask gives', code: 1, line: /^\S+\/strip\.png: error: no object stands out from the background \(a blank or uniform image\?\)$/,
    setup: async (ctx) => [...predictOn(ctx, await image(ctx, 'strip.png', sharp({ create: { width: 20000, height: 20, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer())), '--preprocess', 'paper'] },

  // ---- caches ------------------------------------------------------------------------------------
  { id: 'K01', area: 'cache', given: 'a cached train .f32 overwritten with random bytes of the same size: recomputed (not trained on), the run as the first', code: 0, line: /^features: train cache \S+\.f32 does not match its digest \(damaged\?\): recomputing$/,
    setup: (ctx) => damagedFeatureCache(ctx, (e) => randomLike(e.train.data)), check: trainedAsFirst },
  { id: 'K02', area: 'cache', given: 'NaNs written over the cached test features: recomputed', code: 0, line: /^features: test cache \S+\.f32 does not match its digest \(damaged\?\): recomputing$/,
    setup: (ctx) => damagedFeatureCache(ctx, (e) => nansLike(e.test.data)), check: trainedAsFirst },
  { id: 'K03', area: 'cache', given: 'NaNs in the cached test features, with a digest made to match them: recomputed', code: 0, line: /^features: test cache \S+\.f32 holds 240 NaN or infinite values: recomputing$/,
    setup: (ctx) => damagedFeatureCache(ctx, async (e) => {
      await nansLike(e.test.data);
      const digest = sha256(await fs.readFile(e.test.data));
      await editJson(e.test.meta, (m) => (m.sha256 = digest));
    }), check: trainedAsFirst },
  { id: 'K04', area: 'cache', given: 'a cached .f32 cut short: recomputed', code: 0, line: /^features: val cache \S+\.f32 holds 100 bytes, not the 768 of 24 images' features: recomputing$/,
    setup: (ctx) => damagedFeatureCache(ctx, async (e) => write(e.val.data, (await fs.readFile(e.val.data)).subarray(0, 100))), check: trainedAsFirst },
  { id: 'K05', area: 'cache', given: 'a feature cache .json that is a directory: computed without the cache, no temp file left', code: 0, line: /^features: val cache \S+\.json is a directory, not a cache file: recomputing$/,
    setup: (ctx) => damagedFeatureCache(ctx, async (e) => {
      await fs.rm(e.val.meta);
      await fs.mkdir(e.val.meta);
    }),
    check: async (ctx, r) => {
      await trainedAsFirst(ctx);
      assert.match(r.stderr, /^features: val \(24 images\) computed in .*, not cached \(\S+\.json is a directory\)$/m);
    } },
  { id: 'K06', area: 'cache', given: '--weights URL that served a text page: not kept, so the next run downloads again (and says the same)', code: 2, line: /^fashion-cnn: http:\/\/127\.0\.0\.1:\d+\/w\/weights\.h5: the download is not an HDF5 file \(no HDF5 signature\); expected Keras weights \(\.h5\); it was not saved$/,
    setup: async (ctx) => {
      const url = `${await serveFiles(ctx, { '/w/weights.h5': '<html>sign in to download</html>\n' })}/w/weights.h5`;
      await firstRun(ctx, vgg19Run(ctx, url, 'first'), ownCache(ctx), 2);
      return { args: vgg19Run(ctx, url, 'run'), env: ownCache(ctx) };
    },
    check: async (ctx) => {
      assert.deepEqual(await served(ctx), ['/w/weights.h5', '/w/weights.h5'], 'downloaded by both runs');
      assert.deepEqual(await weightsCache(ctx), [], 'nothing kept');
    } },
  { id: 'K07', area: 'cache', given: '--weights URL whose file name is Keras\'s VGG-19 file (other weights): kept under its own name, so compare still finds no ImageNet weights', code: 0, line: /^== vgg19: skipped, vgg19 needs Keras's ImageNet weights/,
    setup: async (ctx) => {
      const base = await serveFiles(ctx, { [`/other/${KERAS_VGG19_FILE}`]: await fs.readFile(await otherKerasFile(ctx)) });
      await firstRun(ctx, vgg19Run(ctx, `${base}/other/${KERAS_VGG19_FILE}`, 'first'), ownCache(ctx), 2);
      return { args: ['compare', '--models', 'vgg19', ...dataFlags(ctx), '--out', path.join(ctx.dir, 'cmp'), ...QUICK_TRAIN], env: { ...ownCache(ctx), FASHION_CNN_VGG19_WEIGHTS: '' } };
    },
    check: async (ctx) => {
      assert.equal((await served(ctx)).length, 1);
      const kept = await weightsCache(ctx);
      assert.equal(kept.length, 1, 'the download is kept');
      assert.match(kept[0], new RegExp(`^[0-9a-f]{16}-${KERAS_VGG19_FILE.replace(/\./g, '\\.')}$`));
    } },

  // serve: settings that would leave the server open, or could not work, are refused before it listens (a bug would leave it listening: short time limit).
  { id: 'W01', area: 'flags', given: "serve --host 0.0.0.0 --token '' (no token check, beyond loopback)", args: ['serve', '--port', '0', '--host', '0.0.0.0', '--token', ''], timeoutMs: 30_000, code: 2, line: /^fashion-cnn: an empty token turns the token check off, which is refused when the server binds beyond loopback \(--host 0\.0\.0\.0\): keep a token, or add --read-only$/ },
  { id: 'W02', area: 'flags', given: 'serve --token with a space (it could not be sent in a header)', args: ['serve', '--port', '0', '--token', 'two words'], timeoutMs: 30_000, code: 2, line: /^fashion-cnn: the token \(--token or \$FASHION_CNN_TOKEN\) must be printable ASCII without spaces/ },
  { id: 'W03', area: 'flags', given: '$FASHION_CNN_TOKEN with a newline', setup: async () => ({ args: ['serve', '--port', '0'], env: { FASHION_CNN_TOKEN: 'abc\ndef' } }), timeoutMs: 30_000, code: 2, line: /^fashion-cnn: the token \(--token or \$FASHION_CNN_TOKEN\) must be printable ASCII without spaces/ },
  { id: 'W04', area: 'flags', given: 'serve --allow-host given a URL, not a name', args: ['serve', '--port', '0', '--allow-host', 'http://fashion.lan:8080'], timeoutMs: 30_000, code: 2, line: /^fashion-cnn: --allow-host takes a host name or an IP address \(no scheme, port or path\), got "http:\/\/fashion\.lan:8080"$/ },
  // sweep and worker: definitions and queues refused before anything is recorded or queued
  { id: 'Q01', area: 'flags', given: 'sweep --grid over a flag that training does not have', code: 2, line: /^fashion-cnn: --grid wat=1,2: "wat" is not a training flag \(one of epochs, aug-epochs, .*\)$/,
    setup: async (ctx) => ['sweep', '--models', 'cnn1', '--grid', 'wat=1,2', '--out', path.join(ctx.dir, 'sweep')], check: noRunDir('sweep') },
  { id: 'Q02', area: 'flags', given: 'sweep --grid with a value its flag refuses', code: 2, line: /^fashion-cnn: --grid lr=0\.001,fast: fast is not a value of --lr \(expected a positive number, got "fast"\)$/,
    setup: async (ctx) => ['sweep', '--models', 'cnn1', '--grid', 'lr=0.001,fast', '--out', path.join(ctx.dir, 'sweep')], check: noRunDir('sweep') },
  { id: 'Q03', area: 'flags', given: 'sweep --grid over the seed (seeds have --seeds)', code: 2, line: /^fashion-cnn: --grid seed=1,2: seeds are given with --seeds$/,
    setup: async (ctx) => ['sweep', '--models', 'cnn1', '--grid', 'seed=1,2', '--out', path.join(ctx.dir, 'sweep')], check: noRunDir('sweep') },
  { id: 'Q04', area: 'flags', given: 'sweep --seeds with a seed twice', code: 2, line: /^fashion-cnn: --seeds 1,2,1: a seed is given twice$/,
    setup: async (ctx) => ['sweep', '--models', 'cnn1', '--seeds', '1,2,1', '--out', path.join(ctx.dir, 'sweep')], check: noRunDir('sweep') },
  { id: 'Q05', area: 'flags', given: 'sweep --queue that is not a redis:// URL', code: 2, line: /^fashion-cnn: --queue http:\/\/localhost:6379: not a redis:\/\/ URL \(expected redis:\/\/host:port\)$/,
    setup: async (ctx) => ['sweep', '--models', 'cnn1', '--queue', 'http://localhost:6379', '--out', path.join(ctx.dir, 'sweep')], check: noRunDir('sweep') },
  { id: 'Q06', area: 'flags', given: 'worker --runs naming a folder that does not exist', code: 2, line: /^fashion-cnn: --runs \S+\/nowhere: no such folder \(mount the runs folder the sweep uses\)$/,
    setup: async (ctx) => ['worker', '--queue', 'redis://127.0.0.1:6379', '--runs', path.join(ctx.dir, 'nowhere')] },

  // ensembles and distillation: members and teachers checked before any weights load
  { id: 'E01', area: 'flags', given: 'evaluate --ensemble naming one run', code: 2, line: /^fashion-cnn: an ensemble needs at least two runs; \S+\/run gives 1$/,
    setup: async (ctx) => ['evaluate', '--ensemble', await fakeRun(ctx), ...dataFlags(ctx)] },
  { id: 'E02', area: 'flags', given: 'evaluate --ensemble naming a run twice', code: 2, line: /^fashion-cnn: ensemble: \S+\/run is named twice \(each run is one member\)$/,
    setup: async (ctx) => { const run = await fakeRun(ctx); return ['evaluate', '--ensemble', `${run},${run}`, ...dataFlags(ctx)]; } },
  { id: 'E03', area: 'flags', given: 'evaluate --ensemble of runs asked differently (one with test-time flip)', code: 2, line: /^fashion-cnn: ensemble members differ in test-time augmentation \(\S+\/run: none, \S+\/flipped: flip\): give runs that are asked the same way$/,
    setup: async (ctx) => {
      const run = await fakeRun(ctx);
      const flipped = await copyDir(run, path.join(ctx.dir, 'flipped'));
      await editJson(path.join(flipped, 'config.json'), (c) => Object.assign(c.hyper as object, { tta: 'flip' }));
      return ['evaluate', '--ensemble', `${run},${flipped}`, ...dataFlags(ctx)];
    } },
  { id: 'E04', area: 'flags', given: 'evaluate with both a run directory and --ensemble', code: 2, line: /^fashion-cnn: give a run directory or --ensemble, not both; see fashion-cnn evaluate --help$/,
    setup: async (ctx) => { const run = await fakeRun(ctx); return ['evaluate', run, '--ensemble', `${run},${run}`, ...dataFlags(ctx)]; } },
  { id: 'E05', area: 'flags', given: 'evaluate --ensemble naming a run that has no final model', code: 2, line: /^fashion-cnn: ensemble member \S+\/run has no final model \(its training has not finished\)$/,
    setup: async (ctx) => ['evaluate', '--ensemble', `${await fakeRun(ctx, (run) => fs.rm(path.join(run, 'model'), { recursive: true }))},${ctx.fx.fakeRun}`, ...dataFlags(ctx)] },
  { id: 'E06', area: 'flags', given: 'train --distill-weight without --teacher', code: 2, line: /^fashion-cnn: --distill-temperature, --distill-weight, --teacher-targets and --teacher-tta go with --teacher RUNS \(the runs the student learns from\)$/,
    setup: async (ctx) => ['train', '--model', 'cnn1', '--distill-weight', '0.3', '--run-dir', path.join(ctx.dir, 'student'), ...dataFlags(ctx)], check: noRunDir('student') },
  { id: 'E07', area: 'flags', given: 'train --teacher naming a folder that holds no runs', code: 2, line: /^fashion-cnn: run directory \S+\/empty is neither a run directory nor a folder holding finished runs$/,
    setup: async (ctx) => { await fs.mkdir(path.join(ctx.dir, 'empty')); return ['train', '--model', 'cnn1', '--teacher', path.join(ctx.dir, 'empty'), '--run-dir', path.join(ctx.dir, 'student'), ...dataFlags(ctx)]; } },

  // ---- run directories -------------------------------------------------------------------------
  { id: 'R01', area: 'run directory', given: 'evaluate: the run directory does not exist', code: 2, line: /^fashion-cnn: run directory \S+\/nope does not exist$/,
    setup: async (ctx) => ['evaluate', path.join(ctx.dir, 'nope'), ...dataFlags(ctx)] },
  { id: 'R02', area: 'run directory', given: 'evaluate: RUN_DIR is a file', code: 2, line: /^fashion-cnn: run directory \S+\/file is not a directory$/,
    setup: async (ctx) => ['evaluate', await image(ctx, 'file', Buffer.from('x')), ...dataFlags(ctx)] },
  { id: 'R03', area: 'run directory', given: 'evaluate: a run with its record but no model', code: 2, line: /^fashion-cnn: \S+\/run\/model\/model\.json does not exist \(\S+\/run holds no trained model, nor a checkpoint's\)$/,
    setup: evaluateCmd((run) => fs.rm(path.join(run, 'model'), { recursive: true })) },
  { id: 'R04', area: 'run directory', given: 'evaluate: config.json is not JSON', code: 2, line: /^fashion-cnn: \S+\/run\/config\.json is damaged: not valid JSON \(.+\)$/,
    setup: evaluateCmd((run) => write(path.join(run, 'config.json'), '{"model": "tiny", "hyper": {')) },
  { id: 'R05', area: 'run directory', given: 'evaluate: config.json without "hyper"', code: 2, line: /^fashion-cnn: \S+\/run\/config\.json is damaged: missing hyper$/,
    setup: evaluateCmd((run) => editJson(path.join(run, 'config.json'), (c) => delete c.hyper)) },
  { id: 'R06', area: 'run directory', given: 'evaluate: config.json with a future "format"', code: 2, line: /^fashion-cnn: \S+\/run: \S+\/run\/config\.json has format 99, written by a newer fashion-cnn \(this one reads up to 2\)$/,
    setup: evaluateCmd((run) => editJson(path.join(run, 'config.json'), (c) => (c.format = 99))) },
  { id: 'R07', area: 'run directory', given: 'evaluate: config.json whose "augmentation" is null', code: 2, line: /^fashion-cnn: \S+\/run\/config\.json is damaged: "augmentation" is not an object$/,
    setup: evaluateCmd((run) => editJson(path.join(run, 'config.json'), (c) => (c.augmentation = null))) },
  { id: 'R08', area: 'run directory', given: 'evaluate: eval.json is not JSON', code: 2, line: /^fashion-cnn: \S+\/run\/eval\.json is damaged: not valid JSON/,
    setup: evaluateCmd((run) => write(path.join(run, 'eval.json'), 'nonsense')) },
  { id: 'R09', area: 'run directory', given: 'evaluate: eval.json whose "results" is not a list', code: 2, line: /^fashion-cnn: \S+\/run\/eval\.json is damaged: "results" is not a list$/,
    setup: evaluateCmd((run) => write(path.join(run, 'eval.json'), '{"model": "tiny", "results": {}}')) },
  { id: 'R10', area: 'run directory', given: 'evaluate: eval.json is a directory', code: 2, line: /^fashion-cnn: \S+\/run\/eval\.json is damaged: is a directory, not a file$/,
    setup: evaluateCmd(async (run) => {
      await fs.rm(path.join(run, 'eval.json'));
      await fs.mkdir(path.join(run, 'eval.json'));
    }) },
  { id: 'R11', area: 'run directory', given: 'evaluate: history.jsonl with a line that is not JSON', code: 2, line: /^fashion-cnn: \S+\/run\/history\.jsonl line 2 is damaged: not valid JSON/,
    setup: evaluateCmd((run) => fs.appendFile(path.join(run, 'history.jsonl'), '{"phase": "base", "epo\n')) },
  { id: 'R12', area: 'run directory', given: 'evaluate: a history row without val_loss and val_acc', code: 2, line: /^fashion-cnn: \S+\/run\/history\.jsonl line 1 is damaged: missing val_loss, val_acc$/,
    setup: evaluateCmd((run) => write(path.join(run, 'history.jsonl'), '{"phase": "base", "epoch": 1, "loss": 2, "acc": 0.1, "seconds": 1, "lr": 0.001}\n')) },
  { id: 'R13', area: 'run directory', given: 'evaluate: a history row that is a number', code: 2, line: /^fashion-cnn: \S+\/run\/history\.jsonl line 1 is damaged: expected a JSON object$/,
    setup: evaluateCmd((run) => write(path.join(run, 'history.jsonl'), '42\n')) },
  { id: 'R14', area: 'run directory', given: 'evaluate: a history row whose "epoch" is text', code: 2, line: /^fashion-cnn: \S+\/run\/history\.jsonl line 1 is damaged: "epoch" is not a whole number >= 1$/,
    setup: evaluateCmd((run) => write(path.join(run, 'history.jsonl'), '{"phase": "base", "epoch": "one", "loss": 2, "acc": 0.1, "val_loss": 2, "val_acc": 0.1, "seconds": 1, "lr": 0.001}\n')) },
  { id: 'R15', area: 'run directory', given: 'evaluate: history.jsonl is missing', code: 2, line: /^fashion-cnn: \S+\/run\/history\.jsonl does not exist$/,
    setup: evaluateCmd((run) => fs.rm(path.join(run, 'history.jsonl'))) },
  { id: 'R16', area: 'run directory', given: 'evaluate: a last history line cut off mid-write is left out (success)', code: 0, line: /^backend: wasm/,
    setup: evaluateCmd((run) => fs.appendFile(path.join(run, 'history.jsonl'), '{"phase": "base", "epoch": 2, "lo')),
    check: (_ctx, r) => assert.match(r.stdout, /accuracy/i) },
  { id: 'R17', area: 'run directory', given: 'evaluate: the fake run as it is (success)', code: 0, line: /^backend: wasm/,
    setup: evaluateCmd(async () => {}),
    check: async (ctx, r) => {
      assert.match(r.stdout, /accuracy/i);
      const report = JSON.parse(await fs.readFile(path.join(ctx.dir, 'run', 'eval.json'), 'utf8')) as { results: { phase: string }[] };
      assert.deepEqual(report.results.map((x) => x.phase), ['base', 'final']);
    } },
  { id: 'R18', area: 'run directory', given: 'predict: model.json is not JSON', code: 2, line: /^fashion-cnn: \S+\/run\/model\/model\.json is damaged: not valid JSON \(.+\)$/,
    setup: predictCmd((run) => write(path.join(run, 'model', 'model.json'), '{"modelTopology": ')) },
  { id: 'R19', area: 'run directory', given: 'predict: model.json is an empty JSON object', code: 2, line: /^fashion-cnn: \S+\/run\/model\/model\.json is damaged: /,
    setup: predictCmd((run) => write(path.join(run, 'model', 'model.json'), '{}')) },
  { id: 'R20', area: 'run directory', given: 'predict: weights.bin cut short', code: 2, line: /^fashion-cnn: \S+\/run\/model\/weights\.bin: holds 1000 bytes of weights, \S+\/model\.json describes 25480: the weights belong to another model or were cut short$/,
    setup: predictCmd(async (run) => write(path.join(run, 'model', 'weights.bin'), (await fs.readFile(path.join(run, 'model', 'weights.bin'))).subarray(0, 1000))) },
  { id: 'R21', area: 'run directory', given: 'predict: a weights.bin from a larger model', code: 2, line: /^fashion-cnn: \S+\/run\/model\/weights\.bin: holds 50920 bytes of weights, \S+\/model\.json describes 25480: the weights belong to another model or were cut short$/,
    setup: async (ctx) => ['predict', await fakeRun(ctx, (run) => fs.copyFile(path.join(ctx.fx.models.larger, 'weights.bin'), path.join(run, 'model', 'weights.bin'))), ctx.fx.photo] },
  { id: 'R22', area: 'run directory', given: 'predict: weights.bin is missing', code: 2, line: /^fashion-cnn: \S+\/run\/model\/weights\.bin does not exist$/,
    setup: predictCmd((run) => fs.rm(path.join(run, 'model', 'weights.bin'))) },
  { id: 'R23', area: 'run directory', given: 'predict: a model that takes 32x32 images', code: 2, line: /^fashion-cnn: \S+\/run\/model: the model takes input of shape \[batch, 32, 32, 1\], not 28x28x1 images \(\[batch, 28, 28, 1\]\)$/,
    setup: async (ctx) => ['predict', await fakeRun(ctx, async (run) => {
      await fs.rm(path.join(run, 'model'), { recursive: true });
      await copyDir(ctx.fx.models.wrongInput, path.join(run, 'model'));
    }), ctx.fx.photo] },
  { id: 'R24', area: 'run directory', given: 'predict: a model with 5 outputs', code: 2, line: /^fashion-cnn: \S+\/run\/model: the model gives output of shape \[batch, 5\], not 10 class probabilities \(\[batch, 10\]\)$/,
    setup: async (ctx) => ['predict', await fakeRun(ctx, async (run) => {
      await fs.rm(path.join(run, 'model'), { recursive: true });
      await copyDir(ctx.fx.models.fiveClasses, path.join(run, 'model'));
    }), ctx.fx.photo] },
  { id: 'R25', area: 'run directory', given: 'predict: an empty folder as RUN_DIR', code: 2, line: /^fashion-cnn: \S+\/empty\/model\/model\.json does not exist \(\S+\/empty holds no trained model, nor a checkpoint's\)$/,
    setup: async (ctx) => {
      await fs.mkdir(path.join(ctx.dir, 'empty'));
      return ['predict', path.join(ctx.dir, 'empty'), ctx.fx.photo];
    } },
  { id: 'R26', area: 'run directory', given: 'predict: no final model and a checkpoint/CURRENT that is not JSON', code: 2, line: /^fashion-cnn: \S+\/run\/checkpoint\/CURRENT is damaged: not valid JSON/,
    setup: async (ctx) => ['predict', await realRun(ctx, async (run) => {
      await fs.rm(path.join(run, 'model'), { recursive: true });
      await write(path.join(run, 'checkpoint', 'CURRENT'), 'epoch-0001');
    }), ctx.fx.photo] },
  { id: 'R27', area: 'run directory', given: 'predict: checkpoint/CURRENT pointing outside checkpoint/', code: 2, line: /^fashion-cnn: \S+\/run\/checkpoint\/CURRENT is damaged: "dir" is not a checkpoint folder name$/,
    setup: async (ctx) => ['predict', await realRun(ctx, async (run) => {
      await fs.rm(path.join(run, 'model'), { recursive: true });
      await write(path.join(run, 'checkpoint', 'CURRENT'), JSON.stringify({ format: 2, dir: '../../etc' }));
    }), ctx.fx.photo] },
  { id: 'R28', area: 'run directory', given: 'predict: a checkpoint of a future format', code: 2, line: /^fashion-cnn: \S+\/run: \S+\/run\/checkpoint\/CURRENT has format 9, written by a newer fashion-cnn \(this one reads up to 2\)$/,
    setup: async (ctx) => ['predict', await realRun(ctx, async (run) => {
      await fs.rm(path.join(run, 'model'), { recursive: true });
      await editJson(path.join(run, 'checkpoint', 'CURRENT'), (c) => (c.format = 9));
    }), ctx.fx.photo] },
  { id: 'R29', area: 'run directory', given: 'predict: no final model, only a checkpoint (a run still training): its model is used', code: 0, line: /garment\.png: \S/, stream: 'stdout',
    setup: async (ctx) => ['predict', await realRun(ctx, (run) => fs.rm(path.join(run, 'model'), { recursive: true })), ctx.fx.photo] },
  { id: 'R30', area: 'run directory', given: 'embed RUN_DIR whose config.json is not JSON', code: 2, line: /^fashion-cnn: \S+\/run\/config\.json is damaged: not valid JSON/,
    setup: async (ctx) => ['embed', await fakeRun(ctx, (run) => write(path.join(run, 'config.json'), '[')), '--count', '20', ...dataFlags(ctx), '--out', path.join(ctx.dir, 'out')] },
  { id: 'R31', area: 'run directory', given: 'train --run-dir names an existing file', code: 2, line: /^fashion-cnn: run directory \S+\/taken is not a directory$/,
    setup: async (ctx) => ['train', '--model', 'cnn1', '--run-dir', await image(ctx, 'taken', Buffer.from('x')), ...dataFlags(ctx), ...QUICK_TRAIN] },
  { id: 'R32', area: 'run directory', given: 'train --run-dir inside a file', code: 2, line: /^fashion-cnn: run directory \S+\/taken\/run cannot be made: \S+\/taken is not a directory$/,
    setup: async (ctx) => ['train', '--model', 'cnn1', '--run-dir', path.join(await image(ctx, 'taken', Buffer.from('x')), 'run'), ...dataFlags(ctx), ...QUICK_TRAIN] },
  { id: 'R33', area: 'run directory', given: 'compare --out names an existing file: refused before any training', code: 2, line: /^fashion-cnn: run directory \S+\/taken is not a directory$/,
    setup: async (ctx) => ['compare', '--models', 'cnn1', '--out', await image(ctx, 'taken', Buffer.from('x')), ...dataFlags(ctx), ...QUICK_TRAIN] },
  { id: 'R34', area: 'run directory', given: 'train --run-dir under /proc, where no folder can be made: no hang', code: 2, line: /^fashion-cnn: run directory \/proc\/fashion-cnn-nowhere cannot be made: ENOENT: /,
    setup: async (ctx) => ['train', '--model', 'cnn1', '--run-dir', '/proc/fashion-cnn-nowhere', ...dataFlags(ctx), ...QUICK_TRAIN], timeoutMs: 60_000 },
  { id: 'R35', area: 'run directory', given: 'evaluate: history.jsonl is a named pipe (no hang)', code: 2, line: /^fashion-cnn: \S+\/run\/history\.jsonl is damaged: not a regular file \(a pipe or device\?\)$/,
    setup: evaluateCmd((run) => fifo(path.join(run, 'history.jsonl'))), timeoutMs: 30_000 },
  { id: 'R36', area: 'run directory', given: 'predict: model/weights.bin is a named pipe (no hang)', code: 2, line: /^fashion-cnn: \S+\/run\/model\/weights\.bin is damaged: not a regular file \(a pipe or device\?\)$/,
    setup: predictCmd((run) => fifo(path.join(run, 'model', 'weights.bin'))), timeoutMs: 30_000 },

  // ---- resume ------------------------------------------------------------------------------------
  { id: 'S01', area: 'resume', given: '--resume without --run-dir', args: ['train', '--model', 'cnn1', '--resume'], code: 2, line: /^fashion-cnn: --resume needs --run-dir RUN_DIR \(the run to continue\)$/ },
  { id: 'S02', area: 'resume', given: '--resume on a folder with no config.json', code: 2, line: /^fashion-cnn: \S+\/empty\/config\.json does not exist \(\S+\/empty is not a training run\)$/,
    setup: async (ctx) => {
      await fs.mkdir(path.join(ctx.dir, 'empty'));
      return resumeArgs(ctx, path.join(ctx.dir, 'empty'));
    } },
  { id: 'S03', area: 'resume', given: '--resume on a run directory that does not exist', code: 2, line: /^fashion-cnn: run directory \S+\/nope does not exist$/,
    setup: async (ctx) => resumeArgs(ctx, path.join(ctx.dir, 'nope')) },
  { id: 'S04', area: 'resume', given: '--resume --model cnn3 on a cnn1 run', code: 2, line: /^fashion-cnn: \S+\/run: cannot resume with model cnn3 \(the run trains cnn1\); a resumed run keeps its recorded settings/,
    setup: resumeCmd(async () => {}, '--model', 'cnn3') },
  { id: 'S05', area: 'resume', given: '--resume --epochs 5 on a run recorded with 1', code: 2, line: /^fashion-cnn: \S+\/run: cannot resume with epochs 5 \(recorded: 1\)/,
    setup: resumeCmd(async () => {}, '--epochs', '5') },
  { id: 'S06', area: 'resume', given: '--resume --lr 0.01 on a run recorded with 0.001', code: 2, line: /^fashion-cnn: \S+\/run: cannot resume with lr 0\.01 \(recorded: 0\.001\)/,
    setup: resumeCmd(async () => {}, '--lr', '0.01') },
  { id: 'S07', area: 'resume', given: '--resume --optimizer sgd on an Adam run', code: 2, line: /^fashion-cnn: \S+\/run: cannot resume with optimizer \{"kind":"sgd"/,
    setup: resumeCmd(async () => {}, '--optimizer', 'sgd') },
  { id: 'S08', area: 'resume', given: 'a new run (no --resume) in a folder that holds one', code: 2, line: /^fashion-cnn: \S+\/run already holds a run; pass --resume to continue it or choose another --run-dir$/,
    setup: async (ctx) => ['train', '--model', 'cnn1', '--run-dir', await realRun(ctx), ...dataFlags(ctx), ...QUICK_TRAIN] },
  { id: 'S09', area: 'resume', given: 'checkpoint state.json is not JSON', code: 2, line: /^fashion-cnn: \S+\/run\/checkpoint\/epoch-\S+\/state\.json is damaged: not valid JSON/,
    setup: resumeCmd((_run, ck) => write(path.join(ck, 'state.json'), '{"epochsDone": {"base": 1')) },
  { id: 'S10', area: 'resume', given: 'checkpoint state.json without rng and history', code: 2, line: /^fashion-cnn: \S+\/state\.json is damaged: missing rng, history$/,
    setup: resumeCmd((_run, ck) => editJson(path.join(ck, 'state.json'), (s) => {
      delete s.rng;
      delete s.history;
    })) },
  { id: 'S11', area: 'resume', given: 'checkpoint state.json whose "history" is a number', code: 2, line: /^fashion-cnn: \S+\/state\.json is damaged: "history" is not a list$/,
    setup: resumeCmd((_run, ck) => editJson(path.join(ck, 'state.json'), (s) => (s.history = 5))) },
  { id: 'S12', area: 'resume', given: 'checkpoint state.json whose "epochsDone" is null', code: 2, line: /^fashion-cnn: \S+\/state\.json is damaged: "epochsDone" is not an object with "base" and "augment" epoch counts$/,
    setup: resumeCmd((_run, ck) => editJson(path.join(ck, 'state.json'), (s) => (s.epochsDone = null))) },
  { id: 'S13', area: 'resume', given: 'checkpoint optimizer.json is not JSON', code: 2, line: /^fashion-cnn: \S+\/optimizer\.json is damaged: not valid JSON/,
    setup: resumeCmd((_run, ck) => write(path.join(ck, 'optimizer.json'), 'specs')) },
  { id: 'S14', area: 'resume', given: 'checkpoint optimizer.bin cut short', code: 2, line: /^fashion-cnn: \S+\/optimizer\.bin is damaged: holds 4096 bytes, \S+\/optimizer\.json describes \d+$/,
    setup: resumeCmd(async (_run, ck) => write(path.join(ck, 'optimizer.bin'), (await fs.readFile(path.join(ck, 'optimizer.bin'))).subarray(0, 4096))) },
  { id: 'S15', area: 'resume', given: 'checkpoint optimizer.bin is missing', code: 2, line: /^fashion-cnn: \S+\/optimizer\.bin does not exist$/,
    setup: resumeCmd((_run, ck) => fs.rm(path.join(ck, 'optimizer.bin'))) },
  { id: 'S16', area: 'resume', given: 'checkpoint optimizer.json with a negative dimension', code: 2, line: /^fashion-cnn: \S+\/optimizer\.json is damaged: /,
    setup: resumeCmd((_run, ck) => editJson(path.join(ck, 'optimizer.json'), (o) => {
      (o.specs as { shape: number[] }[])[0].shape = [-1, 4];
    })) },
  { id: 'S17', area: 'resume', given: 'a checkpoint holding another model than config.json names', code: 2, line: /^fashion-cnn: \S+\/run: the checkpoint in \S+ does not hold a cnn1 model as config\.json says \(4 weights, 6 expected; first difference at weight 1: 784x8 instead of 3x3x1x32\)$/,
    setup: resumeCmd(async (_run, ck, ctx) => {
      await fs.rm(path.join(ck, 'model'), { recursive: true });
      await copyDir(path.join(ctx.fx.fakeRun, 'model'), path.join(ck, 'model'));
    }) },
  { id: 'S18', area: 'resume', given: 'checkpoint weights.bin cut short', code: 2, line: /^fashion-cnn: \S+\/checkpoint\/epoch-\S+\/model\/weights\.bin: holds 1000 bytes of weights/,
    setup: resumeCmd(async (_run, ck) => write(path.join(ck, 'model', 'weights.bin'), (await fs.readFile(path.join(ck, 'model', 'weights.bin'))).subarray(0, 1000))) },
  { id: 'S19', area: 'resume', given: 'checkpoint/CURRENT is not JSON', code: 2, line: /^fashion-cnn: \S+\/run\/checkpoint\/CURRENT is damaged: not valid JSON/,
    setup: resumeCmd((run) => write(path.join(run, 'checkpoint', 'CURRENT'), 'garbage')) },
  { id: 'S20', area: 'resume', given: 'config.json whose "hyper.epochs" is text', code: 2, line: /^fashion-cnn: \S+\/run\/config\.json is damaged: "hyper\.epochs" is not a whole number >= 0$/,
    setup: resumeCmd((run) => editJson(path.join(run, 'config.json'), (c) => ((c.hyper as Record<string, unknown>).epochs = 'ten'))) },
  { id: 'S21', area: 'resume', given: 'config.json naming a model this version does not have', code: 2, line: /^fashion-cnn: \S+\/run: \S+\/run\/config\.json names model "resnet", which this fashion-cnn does not have \(it has cnn1, cnn3, cnn4, best, best-wide, resnet-mini, vgg19, darknet-transfer, transfer\)$/,
    setup: resumeCmd((run) => editJson(path.join(run, 'config.json'), (c) => (c.model = 'resnet'))) },
  { id: 'S22', area: 'resume', given: 'a run killed before its first checkpoint (config.json and an empty history only): starts over', ownProcess: 'it trains a model', code: 0, line: /has no checkpoint yet: starting it from the beginning$/,
    setup: resumeCmd(async (run) => {
      for (const f of ['checkpoint', 'model', 'eval.json']) await fs.rm(path.join(run, f), { recursive: true });
      await write(path.join(run, 'history.jsonl'), '');
    }),
    check: async (ctx) => assert.equal(lines(await fs.readFile(path.join(ctx.dir, 'run', 'history.jsonl'), 'utf8')).length, 1) },
  { id: 'S23', area: 'resume', given: 'a run killed while writing its first checkpoint (only a .tmp- folder): starts over, leftovers removed', ownProcess: 'it trains a model', code: 0, line: /has no checkpoint yet: starting it from the beginning$/,
    setup: resumeCmd(async (run, ck) => {
      for (const f of ['model', 'eval.json']) await fs.rm(path.join(run, f), { recursive: true });
      await fs.rename(ck, path.join(run, 'checkpoint', `.tmp-${path.basename(ck)}`));
      await fs.rm(path.join(run, 'checkpoint', 'CURRENT'));
      await write(path.join(run, 'history.jsonl'), '');
    }),
    check: async (ctx) => {
      const left = await fs.readdir(path.join(ctx.dir, 'run', 'checkpoint'));
      assert.ok(!left.some((e) => e.startsWith('.tmp-')), `leftovers removed: ${left.join(', ')}`);
    } },
  { id: 'S24', area: 'resume', given: 'resuming a finished run: nothing more to train', ownProcess: 'it trains a model', code: 0, line: /^resuming \S+\/run after epoch 1$/,
    setup: resumeCmd(async () => {}),
    check: async (ctx) => assert.equal(lines(await fs.readFile(path.join(ctx.dir, 'run', 'history.jsonl'), 'utf8')).length, 1) },
  { id: 'S25', area: 'resume', given: '--resume with RUN_DIR a file', code: 2, line: /^fashion-cnn: run directory \S+\/file is not a directory$/,
    setup: async (ctx) => resumeArgs(ctx, await image(ctx, 'file', Buffer.from('x'))) },
  { id: 'S26', area: 'resume', given: 'checkpoint optimizer.bin is a named pipe (no hang)', code: 2, line: /^fashion-cnn: \S+\/optimizer\.bin is damaged: not a regular file \(a pipe or device\?\)$/,
    setup: resumeCmd((_run, ck) => fifo(path.join(ck, 'optimizer.bin'))), timeoutMs: 30_000 },
  { id: 'S27', area: 'resume', given: 'compare --out holding a run of the same model with another protocol', code: 2, line: /^fashion-cnn: \S+\/out\/cnn1: cannot resume with epochs 2 \(recorded: 1\)/,
    setup: async (ctx) => {
      await copyDir(await ctx.fx.realRun(), path.join(ctx.dir, 'out', 'cnn1'));
      return ['compare', '--models', 'cnn1', '--out', path.join(ctx.dir, 'out'), ...dataFlags(ctx), ...quickTrain(2)];
    } },
  { id: 'S28', area: 'resume', given: 'resuming with --data-dir holding other data than config.json records (48 training images, not 96)', code: 2, line: /^fashion-cnn: \S+\/run: the data differs from what \S+\/run\/config\.json records \(.*trainCount 48, the record 96/,
    setup: async (ctx) => {
      const run = await realRun(ctx, async (r) => {
        for (const f of ['checkpoint', 'model', 'eval.json']) await fs.rm(path.join(r, f), { recursive: true });
        await write(path.join(r, 'history.jsonl'), '');
      });
      const other = path.join(ctx.dir, 'other-data');
      await writeFixtureDir(other, { trainCount: 60, testCount: 30 });
      return ['train', '--run-dir', run, '--resume', '--data-dir', other, '--no-verify', '--no-pictures', '--backend', 'wasm'];
    } },

  // ---- interrupts --------------------------------------------------------------------------------
  { id: 'I01', area: 'interrupt', given: 'a run killed (SIGKILL) mid-way through epoch 2, then resumed: same history and weights as without the kill', code: 0, line: /^resuming \S+\/run after epoch 1$/,
    setup: (ctx) => killAndResume(ctx, midEpoch(/^cnn1 phase 1 epoch 2\/2: \d+ steps$/m), /^epoch-0001-/), check: sameAsStraight, timeoutMs: 300_000 },
  { id: 'I02', area: 'interrupt', given: 'a run killed (SIGKILL) mid-way through its first augmented epoch, then resumed: same history and weights', code: 0, line: /^resuming \S+\/run after epoch 2$/,
    setup: (ctx) => killAndResume(ctx, midEpoch(/^cnn1 phase 2 \(augmented\) epoch 1\/1: \d+ steps$/m), /^epoch-0002-/), check: sameAsStraight, timeoutMs: 300_000 },
  { id: 'I03', area: 'interrupt', given: 'a run killed (SIGKILL) before its first checkpoint, then resumed: starts over, same history and weights', code: 0, line: /has no checkpoint yet: starting it from the beginning$/,
    setup: (ctx) => killAndResume(ctx, async (v) => until(() => existsSync(path.join(v.run, 'config.json'))), null), check: sameAsStraight, timeoutMs: 300_000 },

  // ---- two processes, one run ------------------------------------------------------------------
  { id: 'L01', area: 'concurrency', given: '`train --resume` of a run that another process is training: refused, naming that process', code: 2, line: REFUSED('run'),
    setup: async (ctx) => resumeArgs(ctx, await trainingInBackground(ctx)), check: refusedByTrainer(), timeoutMs: 60_000 },
  { id: 'L02', area: 'concurrency', given: '`evaluate` of a run that another process is training: refused, eval.json not written', code: 2, line: REFUSED('run'),
    setup: async (ctx) => ['evaluate', await trainingInBackground(ctx), ...dataFlags(ctx)],
    check: refusedByTrainer(async (ctx) => assert.ok(!existsSync(path.join(ctx.dir, 'run', 'eval.json')), 'no eval.json')), timeoutMs: 60_000 },
  { id: 'L03', area: 'concurrency', given: '`train` of a new run into the directory another process is training: refused, naming that process', code: 2, line: REFUSED('run'),
    setup: async (ctx) => ['train', '--model', 'cnn1', '--run-dir', await trainingInBackground(ctx), '--data-dir', ctx.fx.dataDir, ...QUICK_TRAIN], check: refusedByTrainer(), timeoutMs: 60_000 },
  { id: 'L04', area: 'concurrency', given: '`compare` whose --out holds a run that another process is training: refused, naming that process', code: 2, line: REFUSED('out\\/cnn1'),
    setup: async (ctx) => {
      await trainingInBackground(ctx, path.join(ctx.dir, 'out', 'cnn1'));
      return ['compare', '--models', 'cnn1', '--out', path.join(ctx.dir, 'out'), '--data-dir', ctx.fx.dataDir, ...QUICK_TRAIN];
    }, check: refusedByTrainer(), timeoutMs: 60_000 },
  { id: 'L05', area: 'concurrency', given: '`train --resume` of a run whose train.lock names a process that has ended (killed): the lock is taken over, with a note', code: 0,
    line: /^note: \S+\/run: took over the lock of process \d+ \(since 2026-01-01T00:00:00Z\), which no longer runs$/,
    setup: staleLock(() => ({ pid: deadPid() })), check: lockReleased },
  { id: 'L06', area: 'concurrency', given: '`train --resume` of a run whose train.lock names a living process that started later (its pid reused): taken over, with a note', code: 0,
    line: /^note: \S+\/run: took over the lock of process \d+ \(since 2026-01-01T00:00:00Z\), which no longer runs$/,
    setup: staleLock(() => ({ pid: process.pid, start: 'another-process-start' })), check: lockReleased },
  { id: 'L07', area: 'concurrency', given: '`train --resume` of a run whose train.lock was taken on another host (whose processes cannot be checked): refused, saying how to remove it', code: 2,
    line: /^fashion-cnn: \S+\/run: is being trained by process 4242 on elsewhere\.example \(since 2026-01-01T00:00:00Z\); wait for it or stop it \(this host cannot tell whether it still runs: if it does not, remove \S+\/run\/train\.lock\)$/,
    setup: staleLock(() => ({ pid: 4242, host: 'elsewhere.example' })) },

  // ---- output through a slow pipe ----------------------------------------------------------------
  // A pipe holds 64 KiB: the rest of a larger output waits in the CLI until the reader takes it.
  { id: 'O01', area: 'output', given: 'predict --json of 100 photos (a JSON document over 64 KiB) read by a slow reader: the whole document arrives', code: 0, line: /^\]$/, stream: 'stdout', slowReaderMs: 1500,
    setup: async (ctx) => ['predict', ctx.fx.fakeRun, ...Array<string>(100).fill(await longNamedPhoto(ctx)), '--json'],
    check: (_ctx, r) => {
      assert.ok(r.stdout.length > PIPE_BYTES, `${r.stdout.length} bytes`);
      assert.equal((JSON.parse(r.stdout) as unknown[]).length, 100);
    } },
  { id: 'O02', area: 'output', given: 'predict of 300 photos (text over 64 KiB) read by a slow reader: every photo\'s lines arrive', code: 0, line: /long-name\.png: \S/, stream: 'stdout', slowReaderMs: 1500,
    setup: async (ctx) => ['predict', ctx.fx.fakeRun, ...Array<string>(300).fill(await longNamedPhoto(ctx))],
    check: (ctx, r) => {
      assert.ok(r.stdout.length > PIPE_BYTES, `${r.stdout.length} bytes`);
      assert.equal(r.stdout.split('\n').filter((l) => l.startsWith(`${path.join(ctx.dir, LONG_NAME)}:`)).length, 300);
    } },
  { id: 'O03', area: 'output', given: 'predict of 700 missing photos (errors over 64 KiB on stderr) read by a slow reader: every line and the count arrive', code: 1, line: /^fashion-cnn: 700 of 700 images could not be classified$/, slowReaderMs: 1500,
    setup: async (ctx) => ['predict', ctx.fx.fakeRun, ...Array.from({ length: 700 }, (_, i) => path.join(ctx.dir, `missing-photo-${String(i).padStart(4, '0')}-with-a-long-name-so-that-the-line-is-long.jpg`))],
    check: (_ctx, r) => {
      assert.ok(r.stderr.length > PIPE_BYTES, `${r.stderr.length} bytes`);
      assert.equal(r.stderr.split('\n').filter((l) => l.endsWith(': error: no such file')).length, 700);
    } },
];
