/**
 * The HTTP API on a real socket, on a copy of the shared tiny trained run
 * (test/helpers/trained-run.ts): what a socket, a worker process or a training is needed for
 * (the Host check on the wire, slow clients, TF.js loading the model over HTTP, projections and
 * trainings in worker processes streamed by SSE, a run the CLI trains, SIGTERM of `fashion-cnn
 * serve`). Every other route and error case is test/unit/serve-api.test.ts's, through inject().
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tfl from '@tensorflow/tfjs-layers';
import { topClassSaliency } from '../../src/explain/saliency.js';
import { loadRunModel } from '../../src/runs/index.js';
import type { ServedModelMetadata } from '../../src/serve/model-files.js';
import { buildServer, type ServeApp } from '../../src/serve/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { simplePhoto } from '../helpers/predict-fixtures.js';
import { committedCheckpoint, until } from '../helpers/run-poll.js';
import { copyTrainedRun } from '../helpers/trained-run.js';

let dir = '';
let runs = '';
let server: ServeApp;
let base = '';
let photo: Buffer;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'serve-api-'));
  runs = path.join(dir, 'runs');
  await copyTrainedRun(path.join(runs, 'tiny'));
  await fs.mkdir(path.join(runs, 'damaged'));
  await fs.writeFile(path.join(runs, 'damaged', 'config.json'), '{ not json');
  photo = await simplePhoto('jpeg', 224, 224);
  server = await buildServer({ runsDir: runs, port: 0, defaultModelDir: path.join(runs, 'tiny'), maxUploadBytes: 200_000 });
  base = await server.app.listen({ port: 0, host: '127.0.0.1' });
});

after(async () => {
  await server?.shutdown();
  await fs.rm(dir, { recursive: true, force: true });
});

const get = (p: string) => fetch(base + p);
/** Routes that change something (train, stop) take the server's token. */
const withToken = () => ({ authorization: `Bearer ${server.config.token}` });
const json = (p: string, value: unknown) => fetch(base + p, { method: 'POST', body: JSON.stringify(value), headers: { 'content-type': 'application/json', ...withToken() } });
const stop = (id: string) => fetch(`${base}/api/runs/${id}/stop`, { method: 'POST', headers: withToken() });

async function expectError(res: Response, status: number, re: RegExp): Promise<void> {
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body), ['error'], 'errors are {error} only, no stack');
  assert.match(String(body.error), re);
  assert.doesNotMatch(String(body.error), /\n\s+at /);
}

/** Reads a Server-Sent Events stream to its end: [event, data] pairs. */
async function readEvents(p: string, onEvent?: (type: string, data: Record<string, unknown>) => void): Promise<[string, Record<string, unknown>][]> {
  const res = await get(p);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events: [string, Record<string, unknown>][] = [];
  let buffer = '';
  for await (const chunk of res.body!) {
    buffer += Buffer.from(chunk).toString();
    let at: number;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      const type = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!type || !data) continue;
      const parsed = JSON.parse(data) as Record<string, unknown>;
      events.push([type, parsed]);
      onEvent?.(type, parsed);
    }
  }
  return events;
}
describe('reading runs', () => {
  test('a run id of "..", sent raw on the socket, is a 400', async () => {
    // fetch() would resolve '..' away; a raw request sends it as is.
    const dotdot = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(base);
      http.get({ hostname, port, path: '/api/runs/..' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    assert.equal(dotdot.status, 400);
    assert.match(dotdot.body, /bad run id/);
  });

  test('on the socket too, a request naming another host is refused (DNS rebinding), one naming this server is not', async () => {
    const { hostname, port } = new URL(base);
    const ask = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get({ hostname, port, path: '/api/runs', headers: { host } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    const evil = await ask(`evil.example:${port}`);
    assert.equal(evil.status, 403);
    assert.match(evil.body, /not a name this server answers to/);
    assert.equal((await ask(`localhost:${port}`)).status, 200);
    assert.equal((await ask(`127.0.0.1:${port}`)).status, 200);
  });
});

describe('predict', () => {
  test('a slow client that never finishes its request is cut off by the request timeout', async () => {
    const quick = await buildServer({ runsDir: runs, defaultModelDir: path.join(runs, 'tiny'), requestTimeoutMs: 1000 });
    const url = new URL(await quick.app.listen({ port: 0, host: '127.0.0.1' }));
    try {
      const cut = (request: string) =>
        new Promise<{ ms: number; reply: string }>((resolve) => {
          const started = Date.now();
          const socket = net.connect(Number(url.port), url.hostname);
          let reply = '';
          let i = 0;
          // A byte every 100 ms: never idle, never done.
          const timer = setInterval(() => socket.write(request[i++ % request.length]), 100);
          socket.on('data', (d: Buffer) => (reply += d.toString()));
          socket.on('error', () => {});
          socket.on('close', () => {
            clearInterval(timer);
            resolve({ ms: Date.now() - started, reply });
          });
        });
      const [headers, body] = await Promise.all([
        // Headers that never end, and a body that never ends.
        cut(`POST /api/predict HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: image/jpeg\r\nX-Slow: `),
        new Promise<{ ms: number; reply: string }>((resolve) => {
          const started = Date.now();
          const socket = net.connect(Number(url.port), url.hostname, () => socket.write(`POST /api/predict HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n`));
          let reply = '';
          const timer = setInterval(() => socket.write(photo.subarray(0, 1)), 100);
          socket.on('data', (d: Buffer) => (reply += d.toString()));
          socket.on('error', () => {});
          socket.on('close', () => {
            clearInterval(timer);
            resolve({ ms: Date.now() - started, reply });
          });
        }),
      ]);
      for (const c of [headers, body]) {
        assert.ok(c.ms >= 900 && c.ms < 4000, `cut off after ${c.ms} ms`);
        assert.match(c.reply, /^HTTP\/1\.1 408/);
      }
    } finally {
      await quick.shutdown();
    }
  });

  test("model files: TF.js loads the served model over HTTP and it answers as the run's model does, saliency included", async () => {
    const loaded = await tfl.loadLayersModel(`${base}/api/runs/tiny/model/model.json`);
    try {
      const meta = loaded.getUserDefinedMetadata() as ServedModelMetadata;
      const { model } = await loadRunModel(path.join(runs, 'tiny'));
      assert.deepEqual(meta.fashionCnn, { name: model.name, tta: 'none' });
      const frames = [0, 1, 2].map((k) => Float32Array.from({ length: 784 }, (_, i) => ((i * (7 + k)) % 97) / 96));
      const ours = topClassSaliency(model, frames, 'none');
      const theirs = topClassSaliency(loaded, frames, 'none');
      for (const [i, a] of ours.entries()) {
        const b = theirs[i];
        assert.equal(b.top, a.top);
        for (let c = 0; c < 10; c++) assert.ok(Math.abs(a.probs[c] - b.probs[c]) < 1e-5, `frame ${i} class ${c}: ${b.probs[c]} against ${a.probs[c]}`);
        for (let k = 0; k < 784; k++) assert.ok(Math.abs(a.saliency![k] - b.saliency![k]) < 1e-3, `frame ${i} saliency ${k}`);
      }
      model.dispose();
      // The default model's files are the same route's; weights.bin is what the manifest lists.
      const json = (await (await get('/api/model/model.json')).json()) as { weightsManifest: { paths: string[]; weights: { shape: number[] }[] }[] };
      assert.deepEqual(json.weightsManifest[0].paths, ['./weights.bin']);
      const bin = await get('/api/model/weights.bin');
      assert.equal(bin.headers.get('content-type'), 'application/octet-stream');
      const floats = json.weightsManifest[0].weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
      assert.equal((await bin.arrayBuffer()).byteLength, 4 * floats);
      // A browser that has the files revalidates them: 304 while the model is the same.
      const etag = bin.headers.get('etag');
      assert.match(etag ?? '', /^"[\w-]{20,}"$/);
      const again = await fetch(`${base}/api/model/weights.bin`, { headers: { 'if-none-match': etag! } });
      assert.equal(again.status, 304);
      assert.equal((await again.arrayBuffer()).byteLength, 0);
      assert.equal((await fetch(`${base}/api/model/weights.bin`, { headers: { 'if-none-match': '"other"' } })).status, 200);
    } finally {
      loaded.dispose();
    }
  });
});

describe('projection', () => {
  test('computed once in a worker, cached in the run, projector files downloadable', async () => {
    const q = '?method=pca&dims=3&source=features&count=200';
    const first = await get(`/api/runs/tiny/projection${q}`);
    const body = (await first.json()) as { coords: number[][]; labels: number[]; method: string; dims: number; source: { kind: string } };
    assert.equal(first.status, 200, JSON.stringify(body));
    assert.equal(body.coords.length, 200);
    assert.equal(body.coords[0].length, 3);
    assert.equal(body.source.kind, 'model');
    const cachedDirs = async () => (await fs.readdir(path.join(runs, 'tiny', 'embed'))).filter((d) => /^serve-features-[0-9a-f]{12}-pca-3d-200$/.test(d));
    const [dir] = await cachedDirs();
    assert.ok(dir, 'cached under a name that says which model the features came from');
    const cached = path.join(runs, 'tiny', 'embed', dir, 'projection.json');
    const mtime = (await fs.stat(cached)).mtimeMs;
    const again = (await (await get(`/api/runs/tiny/projection${q}`)).json()) as { coords: number[][] };
    assert.deepEqual(again.coords, body.coords);
    assert.equal((await fs.stat(cached)).mtimeMs, mtime, 'served from the cache');
    // A model written anew (here: only its time) is not answered from the old model's cache.
    const modelJson = path.join(runs, 'tiny', 'model', 'model.json');
    const later = new Date(Date.now() + 5000);
    await fs.utimes(modelJson, later, later);
    assert.equal((await get(`/api/runs/tiny/projection${q}`)).status, 200);
    assert.equal((await cachedDirs()).length, 2, 'computed again for the new model');
    const sprite = await get(`/api/runs/tiny/projection/files/sprite.png${q}`);
    assert.equal(sprite.status, 200);
    assert.ok(((await sharp(Buffer.from(await sprite.arrayBuffer())).metadata()).width ?? 0) >= 28 * 14);
    const tensors = await get(`/api/runs/tiny/projection/files/tensors.tsv${q}`);
    assert.match(tensors.headers.get('content-disposition') ?? '', /attachment/);
    assert.equal((await tensors.text()).trim().split('\n').length, 200);
  });

  test('distinct projections asked at once are computed one at a time: one worker, the others queued', async () => {
    const started = Date.now();
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const h = (await (await get('/healthz')).json()) as { projections: { running: number; queued: number } };
        most = Math.max(most, h.projections.running);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const answers = await Promise.all([12, 13, 14].map((n) => get(`/api/runs/tiny/projection?source=pixels&method=pca&count=${n}`)));
    sampling = false;
    await sampler;
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
    assert.equal(most, 1, `at most one projection worker at a time (${Date.now() - started} ms)`);
  });

  test('pixels source, and bad queries', async () => {
    const px = (await (await get('/api/runs/tiny/projection?source=pixels&count=100')).json()) as { source: { kind: string; dim: number } };
    assert.deepEqual([px.source.kind, px.source.dim], ['pixels', 784]);
    await expectError(await get('/api/runs/tiny/projection?method=lda'), 400, /method/);
    await expectError(await get('/api/runs/tiny/projection?dims=4'), 400, /dims/);
    await expectError(await get('/api/runs/tiny/projection?count=20000'), 400, /count/);
    await expectError(await get('/api/runs/tiny/projection?method=custom'), 400, /left and right/);
    await expectError(await get('/api/runs/tiny/projection?method=custom&left=zzz&right=Trouser&count=100'), 422, /zzz|match/i);
    await expectError(await get('/api/runs/tiny/projection/files/passwd?method=pca'), 400, /file/);
    await expectError(await get('/api/runs/nope/projection'), 404, /does not exist/);
  });
});

describe('training', () => {
  test('a run in a worker: one at a time, streamed by SSE epoch by epoch', async () => {
    const res = await json('/api/train', { model: 'cnn1', id: 'live', limit: 500, epochs: 3, augEpochs: 0, pictures: false });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { id: 'live', events: '/api/runs/live/events' });
    await expectError(await json('/api/train', { model: 'cnn1', id: 'other', limit: 500, epochs: 1 }), 409, /already in progress/);
    assert.equal(((await (await get('/api/train')).json()) as { active: { id: string } }).active.id, 'live');
    const events = await readEvents('/api/runs/live/events');
    const epochs = events.filter(([t]) => t === 'epoch').map(([, d]) => d.row as { epoch: number; val_acc: number });
    assert.deepEqual(epochs.map((r) => r.epoch), [1, 2, 3]);
    assert.ok(events.some(([t]) => t === 'batch'), 'batch progress streamed');
    assert.deepEqual(events.at(-1), ['end', { type: 'end', status: 'done' }]);
    const run = (await (await get('/api/runs/live')).json()) as { history: { epoch: number }[] };
    assert.equal(run.history.length, 3);
    // A finished run's stream replays its history and ends.
    const replay = await readEvents('/api/runs/live/events');
    assert.equal(replay.filter(([t]) => t === 'epoch').length, 3);
  });

  test('stop: the worker ends after a batch, the run keeps its last epoch checkpoint', async () => {
    assert.equal((await json('/api/train', { model: 'cnn1', id: 'stopme', limit: 3000, epochs: 50, augEpochs: 0, pictures: false })).status, 202);
    let stopped = false;
    const events = await readEvents('/api/runs/stopme/events', (type) => {
      if (type === 'epoch' && !stopped) {
        stopped = true;
        void stop('stopme').then((r) => assert.equal(r.status, 202));
      }
    });
    const end = events.at(-1)!;
    assert.equal(end[0], 'end');
    assert.equal(end[1].status, 'stopped');
    assert.match(String(end[1].message), /checkpoint.*--resume/);
    const history = (await (await get('/api/runs/stopme')).json()) as { history: unknown[]; model: { fromCheckpoint: boolean } };
    assert.ok(history.history.length >= 1 && history.history.length < 50);
    assert.equal(history.model.fromCheckpoint, true);
  });
});

test('a run the CLI is training: listed as training, and its events follow it until the CLI lets go of the run', async () => {
  const runDir = path.join(runs, 'cli');
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/fashion-cnn.js'), 'train', '--model', 'cnn1', '--limit', '600', '--epochs', '200', '--aug-epochs', '0', '--no-pictures', '--run-dir', runDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    await until(() => committedCheckpoint(runDir) !== null || child.exitCode !== null, 120_000, 'for the CLI run to commit its first epoch');
    assert.equal(child.exitCode, null, stderr);
    const listed = (await (await get('/api/runs')).json()) as { runs: { id: string; training: boolean }[] };
    assert.equal(listed.runs.find((r) => r.id === 'cli')?.training, true, 'listed as training');
    assert.equal(((await (await get('/api/runs/cli')).json()) as { training: boolean }).training, true);
    const recorded = (await fs.readFile(path.join(runDir, 'history.jsonl'), 'utf8')).trim().split('\n').length;
    // The stream replays the rows recorded so far, then follows the new ones: the CLI is stopped after two more.
    let epochs = 0;
    const events = await readEvents('/api/runs/cli/events', (type) => {
      if (type === 'epoch' && ++epochs === recorded + 2) child.kill('SIGTERM');
    });
    const rows = events.filter(([t]) => t === 'epoch').map(([, d]) => (d.row as { epoch: number }).epoch);
    assert.ok(rows.length >= recorded + 2, `${rows.length} epochs streamed, ${recorded} recorded when the stream began`);
    assert.deepEqual(rows, rows.map((_, i) => i + 1), 'each epoch once, in order');
    assert.deepEqual(events.at(-1), ['end', { type: 'end', status: 'stopped' }], 'the CLI stopped before the end of the run');
    await exited;
    const after = (await (await get('/api/runs')).json()) as { runs: { id: string; training: boolean }[] };
    assert.equal(after.runs.find((r) => r.id === 'cli')?.training, false, 'no longer training once the CLI is gone');
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
});

test('fashion-cnn serve: SIGTERM while training stops the worker at a checkpoint and exits 0', async () => {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/fashion-cnn.js'), 'serve', '--runs', runs, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  // The token is printed once, in the URL that opens the dashboard logged in.
  const login = await new Promise<URL>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /open (http:\/\/\S+\?token=\S+) for the dashboard/.exec(stderr);
      if (m) resolve(new URL(m[1]));
    });
    child.on('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  const url = login.origin;
  assert.match(stderr, new RegExp(`listening on ${url}`));
  const token = login.searchParams.get('token')!;
  assert.match(token, /^[\w-]{32}$/, 'a random token: 24 bytes, base64url');
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const train = (authorization: string) => fetch(`${url}/api/train`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify({ model: 'cnn1', id: 'sigterm', limit: 3000, epochs: 50, augEpochs: 0, pictures: false }) });
  assert.equal((await train('Bearer not-it')).status, 401);
  const res = await train(`Bearer ${token}`);
  assert.equal(res.status, 202);
  const events = await fetch(`${url}/api/runs/sigterm/events`);
  let text = '';
  for await (const chunk of events.body!) {
    text += Buffer.from(chunk).toString();
    if (text.includes('event: epoch')) break;
  }
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  const history = (await fs.readFile(path.join(runs, 'sigterm', 'history.jsonl'), 'utf8')).trim().split('\n');
  assert.ok(history.length >= 1 && history.length < 50);
  assert.match(stderr, /SIGTERM/);
});
