/**
 * The training protocol has one source (src/train/protocol.ts): the CLI's flag defaults are read
 * from it, and a training request through the API records the same config.json as
 * `fashion-cnn train` with the same flags.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { overridesFromFlags, type TrainingFlags } from '../../src/cli/commands/train.js';
import { ARTICLE_PROTOCOL, resolveProtocol } from '../../src/train/protocol.js';
import { readHistory, readRunConfig, type RunConfig } from '../../src/runs/index.js';
import { buildServer, type ServeApp } from '../../src/serve/index.js';
import { trainBody } from '../../src/serve/schemas.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

let dir = '';
let server: ServeApp | undefined;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fashion-cnn-protocol-'));
});
after(async () => {
  await server?.shutdown();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Every flag of `command` at its default value, as the action would receive them. */
function defaultFlags(command: Command): TrainingFlags {
  return Object.fromEntries(command.options.map((o) => [o.attributeName(), o.defaultValue])) as unknown as TrainingFlags;
}

for (const name of ['train', 'compare']) {
  test(`${name}: every protocol flag's default is the article's protocol`, async () => {
    const program = await buildProgram([name]);
    const command = program.commands.find((c) => c.name() === name)!;
    // Every default taken as if given: a default that drifts from the protocol shows as a difference.
    assert.deepEqual(resolveProtocol('cnn1', overridesFromFlags(defaultFlags(command), () => true)), ARTICLE_PROTOCOL);
  });
}

test('the API schema sets no protocol defaults of its own (a missing field takes the model\'s recipe)', () => {
  for (const [k, v] of Object.entries(trainBody.properties)) assert.ok(!('default' in v) || k === 'pictures', `${k} has a default`);
});

/** Polls until `done` holds (at most `ms`). */
async function until(done: () => Promise<boolean>, ms = 300_000): Promise<void> {
  for (const start = Date.now(); !(await done()); ) {
    assert.ok(Date.now() - start < ms, 'timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

const exists = (file: string) => fs.stat(file).then(() => true, () => false);
const comparable = ({ id: _id, createdAt: _c, ...rest }: RunConfig) => rest;
const apiIdle = async () => (JSON.parse((await server!.app.inject({ url: '/api/train' })).body) as { active: unknown }).active === null;

test('POST /api/train and `fashion-cnn train` with the same settings record the same config.json (and history)', async () => {
  const cli = (run: string, ...flags: string[]) => runCli(['train', '--run-dir', path.join(dir, run), '--no-pictures', ...flags]);
  const cnn1 = await cli('cli-cnn1', '--model', 'cnn1', '--limit', '600', '--epochs', '2', '--aug-epochs', '1', '--seed', '5', '--lr', '0.002');
  assert.equal(cnn1.code, 0, cnn1.stderr);
  // best brings a recipe, layered under the flags; its config.json is written before the first
  // epoch, so each run is stopped once it has one (its evaluation would take a minute).
  const best = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/fashion-cnn.js'), 'train', '--model', 'best', '--limit', '300', '--aug-epochs', '3', '--seed', '5', '--lr', '0.05', '--run-dir', path.join(dir, 'cli-best'), '--no-pictures'], { stdio: 'ignore' });
  await until(() => exists(path.join(dir, 'cli-best', 'config.json')));
  best.kill('SIGKILL');
  // After the CLI runs: the server sets this process's inference threads, which a child would inherit.
  const runs = path.join(dir, 'runs');
  server = await buildServer({ runsDir: runs, port: 0, token: 'protocol-test' });
  const auth = { authorization: 'Bearer protocol-test' };
  const train = (payload: object) => server!.app.inject({ method: 'POST', url: '/api/train', headers: auth, payload: { pictures: false, ...payload } });
  assert.equal((await train({ model: 'cnn1', id: 'cnn1', limit: 600, epochs: 2, augEpochs: 1, seed: 5, lr: 0.002 })).statusCode, 202);
  await until(apiIdle);
  const rows = async (run: string) => (await readHistory(run)).map(({ seconds: _s, ...row }) => row);
  assert.deepEqual(comparable(await readRunConfig(path.join(runs, 'cnn1'))), comparable(await readRunConfig(path.join(dir, 'cli-cnn1'))));
  assert.deepEqual(await rows(path.join(runs, 'cnn1')), await rows(path.join(dir, 'cli-cnn1')), 'same protocol, same seed: the same history');

  assert.equal((await train({ model: 'best', id: 'best', limit: 300, augEpochs: 3, seed: 5, lr: 0.05 })).statusCode, 202);
  await until(() => exists(path.join(runs, 'best', 'config.json')));
  assert.equal((await server.app.inject({ method: 'POST', url: '/api/runs/best/stop', headers: auth })).statusCode, 202);
  await until(apiIdle);
  const [a, b] = [await readRunConfig(path.join(runs, 'best')), await readRunConfig(path.join(dir, 'cli-best'))];
  assert.deepEqual(comparable(a), comparable(b));
  assert.equal(a.hyper.optimizer.kind, 'sgd', 'the recipe is layered under the request');
  assert.equal(a.hyper.lr, 0.05, 'and the request wins over it');
});
