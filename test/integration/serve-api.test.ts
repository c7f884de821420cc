/**
 * The HTTP API end to end: every route and its error cases, on a tiny cnn1 trained for real in a
 * temporary runs folder. Uploads are synthetic photos; training and projections run in worker
 * processes as they do in production.
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
import { classifyWithModel } from '../../src/predict/index.js';
import { loadRunModel } from '../../src/runs/index.js';
import type { ServedModelMetadata } from '../../src/serve/model-files.js';
import { buildServer, type ServeApp } from '../../src/serve/index.js';
import * as S from '../../src/serve/schemas.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { GARMENT_SHAPES, simplePhoto } from '../helpers/predict-fixtures.js';
import { committedCheckpoint, until } from '../helpers/run-poll.js';

let dir = '';
let runs = '';
let server: ServeApp;
let base = '';
let photo: Buffer;

/** A tiny trained run: cnn1 on 600 images, one epoch (seconds). */
async function trainTiny(runDir: string, extra: string[] = []): Promise<void> {
  const r = await runCli(['train', '--model', 'cnn1', '--limit', '600', '--epochs', '1', '--aug-epochs', '0', '--run-dir', runDir, ...extra]);
  assert.equal(r.code, 0, r.stderr);
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'serve-api-'));
  runs = path.join(dir, 'runs');
  await trainTiny(path.join(runs, 'tiny'));
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
const post = (p: string, body: Buffer | string, type?: string) => fetch(base + p, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers: type ? { 'content-type': type } : {} });
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
  test('GET /healthz', async () => {
    const res = await get('/healthz');
    const body = (await res.json()) as { ok: boolean; tensors: number };
    assert.equal(res.status, 200);
    assert.equal(body.ok, true);
    assert.equal(typeof body.tensors, 'number');
  });

  test('GET /api/runs lists the runs, a damaged one with its error', async () => {
    const body = (await (await get('/api/runs')).json()) as { runs: { id: string; model: string | null; lastEval: { test_acc: number } | null; article: unknown; error?: string }[] };
    const tiny = body.runs.find((r) => r.id === 'tiny');
    assert.equal(tiny?.model, 'cnn1');
    assert.ok(tiny.lastEval && tiny.lastEval.test_acc > 0.2 && tiny.lastEval.test_acc <= 1);
    assert.ok(tiny.article, "cnn1 carries the article's figures");
    const damaged = body.runs.find((r) => r.id === 'damaged');
    assert.match(damaged?.error ?? '', /config\.json/);
    assert.ok(!damaged?.error?.includes(dir), 'no server paths in messages');
  });

  test('GET /api/runs/:id: config, history, eval, pictures', async () => {
    const body = (await (await get('/api/runs/tiny')).json()) as { config: { model: string; hyper: { limit: number } }; history: { epoch: number; acc: number }[]; eval: { results: { confusion: number[][] }[] }; pictures: string[] };
    assert.equal(body.config.model, 'cnn1');
    assert.equal(body.config.hyper.limit, 600);
    assert.equal(body.history.length, 1);
    assert.equal(body.eval.results[0].confusion.flat().reduce((a, b) => a + b, 0), 10_000);
    assert.ok(body.pictures.includes('curves.png') && body.pictures.includes('confusion.svg'));
  });

  test('run ids: unknown 404, bad characters 400, damaged 422', async () => {
    await expectError(await get('/api/runs/nope'), 404, /nope does not exist/);
    await expectError(await get('/api/runs/bad%20id'), 400, /id/);
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
    await expectError(await get('/api/runs/damaged'), 422, /config\.json/);
  });

  test('GET /api/runs/:id/pictures/:name', async () => {
    const res = await get('/api/runs/tiny/pictures/curves.png');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    assert.ok((meta.width ?? 0) > 100);
    assert.equal((await get('/api/runs/tiny/pictures/confusion.svg')).headers.get('content-type'), 'image/svg+xml');
    await expectError(await get('/api/runs/tiny/pictures/secret.png'), 404, /no picture/);
    await expectError(await get('/api/runs/tiny/pictures/config.json'), 400, /name/);
    await expectError(await get('/api/runs/nope/pictures/curves.png'), 404, /does not exist/);
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

  test('unknown routes are JSON 404s', async () => {
    await expectError(await get('/api/nothing'), 404, /no such route/);
  });
});

describe('predict', () => {
  test('multipart upload: top-3, the 28x28 input and a saliency map', async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'shirt.jpg');
    const res = await fetch(`${base}/api/predict`, { method: 'POST', body: form });
    const body = (await res.json()) as { top: { name: string; prob: number }[]; input: string; saliency: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.top.length, 3);
    assert.ok(body.top[0].prob >= body.top[1].prob && body.top[1].prob >= body.top[2].prob);
    for (const url of [body.input, body.saliency]) {
      assert.match(url, /^data:image\/png;base64,/);
      const { data, info } = await sharp(Buffer.from(url.split(',')[1], 'base64')).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height], [28, 28]);
      assert.ok(data.some((v) => v > 0), 'not blank');
    }
    // The saliency map is bright somewhere and dark somewhere: it singles out pixels.
    const heat = (await sharp(Buffer.from(body.saliency.split(',')[1], 'base64')).greyscale().raw().toBuffer()) as Buffer;
    assert.ok(Math.max(...heat) > 200 && Math.min(...heat) < 50);
  });

  test('raw body, a run\'s model, ?top: the same answer as multipart', async () => {
    const raw = (await (await post('/api/runs/tiny/predict?top=5', photo, 'image/jpeg')).json()) as { top: { name: string; prob: number }[] };
    const def = (await (await post('/api/predict', photo, 'application/octet-stream')).json()) as { top: { name: string; prob: number }[] };
    assert.equal(raw.top.length, 5);
    assert.deepEqual(raw.top.slice(0, 3), def.top);
  });

  test('?saliency=false: the same classes and probabilities, no saliency map; a bad value is a 400', async () => {
    type Answer = { top: { class: number; prob: number }[]; input: string; saliency?: string };
    const full = (await (await post('/api/predict?top=10', photo, 'image/jpeg')).json()) as Answer;
    const res = await post('/api/predict?top=10&saliency=false', photo, 'image/jpeg');
    assert.equal(res.status, 200);
    const lean = (await res.json()) as Answer;
    assert.ok(full.saliency?.startsWith('data:image/png;base64,'));
    assert.equal(lean.saliency, undefined);
    assert.equal(lean.input, full.input);
    assert.deepEqual(lean.top.map((t) => t.class), full.top.map((t) => t.class));
    lean.top.forEach((t, i) => assert.ok(Math.abs(t.prob - full.top[i].prob) < 1e-5));
    await expectError(await post('/api/predict?saliency=maybe', photo, 'image/jpeg'), 400, /saliency/);
  });

  test('bad uploads: 415 non-image, 413 too large, 400 empty or no file, 422 no garment, 400 bad top', async () => {
    await expectError(await post('/api/predict', Buffer.from('hello, not a picture'), 'image/jpeg'), 415, /not an image/);
    await expectError(await post('/api/predict', 'hello', 'text/plain'), 415, /not an image upload/);
    await expectError(await post('/api/predict', Buffer.from('x'), 'application/x-foo'), 415, /Unsupported Media Type|content type/i);
    const big = Buffer.alloc(300_000, 1);
    await expectError(await post('/api/predict', big, 'image/jpeg'), 413, /too large/);
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(big)]), 'big.jpg');
    await expectError(await fetch(`${base}/api/predict`, { method: 'POST', body: form }), 413, /too large/);
    const noFile = new FormData();
    noFile.append('name', 'x');
    await expectError(await fetch(`${base}/api/predict`, { method: 'POST', body: noFile }), 400, /no file/);
    await expectError(await post('/api/predict', Buffer.alloc(0), 'image/png'), 400, /empty|no image/);
    const blank = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toBuffer();
    await expectError(await post('/api/predict', blank, 'image/png'), 422, /object|background/);
    await expectError(await post('/api/predict?top=0', photo, 'image/jpeg'), 400, /top/);
    await expectError(await post('/api/runs/nope/predict', photo, 'image/jpeg'), 404, /does not exist/);
  });

  test('batched: concurrent uploads of different photos each get the answer they get alone', async () => {
    const shapes = GARMENT_SHAPES;
    const uploads = await Promise.all(shapes.map((shape) => sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="224" height="224"><rect width="100%" height="100%" fill="#f2efe8"/>${shape}</svg>`)).jpeg().toBuffer()));
    type Answer = { top: { class: number; prob: number }[]; input: string; saliency: string };
    // A server that waits 25 ms for a batch to fill, so that uploads sent together are classified together.
    const batching = await buildServer({ runsDir: runs, defaultModelDir: path.join(runs, 'tiny'), batchWindowMs: 25 });
    const at = await batching.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const ask = async (body: Buffer) => {
        const res = await fetch(`${at}/api/predict?top=10`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'image/jpeg' } });
        assert.equal(res.status, 200);
        return (await res.json()) as Answer;
      };
      const pixels = async (url: string) => (await sharp(Buffer.from(url.split(',')[1], 'base64')).raw().toBuffer()) as Buffer;
      const alone: Answer[] = [];
      for (const u of uploads) alone.push(await ask(u));
      assert.ok(new Set(alone.map((a) => a.top[0].class)).size >= 2, 'the photos are classified differently');
      const health = async () => ((await (await fetch(`${at}/healthz`)).json()) as { batches: { batches: number; frames: number } }).batches;
      const first = await health();
      for (let round = 0; round < 3; round++) {
        // Each photo several times, interleaved, all at once.
        const order = Array.from({ length: 4 * uploads.length }, (_, k) => (k * (round + 1)) % uploads.length);
        const together = await Promise.all(order.map((k) => ask(uploads[k])));
        for (const [j, k] of order.entries()) {
          const a = together[j];
          assert.deepEqual(a.top.map((t) => t.class), alone[k].top.map((t) => t.class), `photo ${k}: classes`);
          a.top.forEach((t, c) => assert.ok(Math.abs(t.prob - alone[k].top[c].prob) < 1e-5, `photo ${k}: probability of class ${t.class}`));
          assert.equal(a.input, alone[k].input, `photo ${k}: the frame the model saw`);
          const [heat, heatAlone] = [await pixels(a.saliency), await pixels(alone[k].saliency)];
          assert.ok(heat.every((v, i) => Math.abs(v - heatAlone[i]) <= 1), `photo ${k}: saliency map`);
        }
      }
      const last = await health();
      assert.ok(last.frames - first.frames > last.batches - first.batches, 'some uploads shared a forward pass');
    } finally {
      await batching.shutdown();
    }
  });

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

  test("the shipped default model answers as `predict` does: its run's test-time flip included", async () => {
    const shipped = path.join(REPO_ROOT, 'models', 'default');
    const served = await buildServer({ runsDir: runs, defaultModelDir: shipped });
    try {
      const uploads = [photo, ...(await Promise.all(GARMENT_SHAPES.slice(0, 3).map((shape) => sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="224" height="224"><rect width="100%" height="100%" fill="#ffffff"/>${shape}</svg>`)).jpeg().toBuffer())))];
      const cli = await classifyWithModel(uploads, { runDir: shipped, top: 10 });
      assert.equal(cli.tta, 'flip', 'the shipped model asks for test-time flip');
      const mirrorless = await classifyWithModel(uploads, { runDir: shipped, top: 10, tta: 'none' });
      let differs = false;
      for (const [i, upload] of uploads.entries()) {
        const res = await served.app.inject({ method: 'POST', url: '/api/predict?top=10', payload: upload, headers: { 'content-type': 'image/jpeg' } });
        assert.equal(res.statusCode, 200, res.body);
        const answer = res.json<{ top: { class: number; prob: number }[] }>();
        const expected = cli.results[i], plain = mirrorless.results[i];
        assert.ok(expected.ok && plain.ok);
        for (const t of answer.top) assert.ok(Math.abs(t.prob - expected.probs[t.class]) < 1e-5, `upload ${i}, class ${t.class}: ${t.prob} against predict's ${expected.probs[t.class]}`);
        differs ||= answer.top.some((t) => Math.abs(t.prob - plain.probs[t.class]) > 1e-3);
      }
      assert.ok(differs, 'without the flip some answers would differ: the test can tell the two apart');
    } finally {
      await served.shutdown();
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

  test('model files: a name other than model.json or weights.bin is a 400, an unknown run a 404', async () => {
    await expectError(await get('/api/model/model.h5'), 400, /file/);
    await expectError(await get('/api/runs/tiny/model/..%2Fconfig.json'), 400, /file/);
    await expectError(await get('/api/runs/nope/model/model.json'), 404, /nope/);
  });

  test('no default model: 503 with a reason', async () => {
    const other = await buildServer({ runsDir: runs, defaultModelDir: path.join(dir, 'no-such-model') });
    try {
      const res = await other.app.inject({ method: 'POST', url: '/api/predict', payload: photo, headers: { 'content-type': 'image/jpeg' } });
      assert.equal(res.statusCode, 503);
      assert.match(res.json<{ error: string }>().error, /no default model/);
      assert.ok(!res.body.includes(dir), 'no server paths in messages');
      const files = await other.app.inject({ method: 'GET', url: '/api/model/model.json' });
      assert.equal(files.statusCode, 503);
      assert.match(files.json<{ error: string }>().error, /no default model/);
    } finally {
      await other.shutdown();
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
  test('bad requests: 400 for the body, 409 for an existing run', async () => {
    await expectError(await json('/api/train', {}), 400, /model/);
    await expectError(await json('/api/train', { model: 'cnn9' }), 400, /unknown model/);
    await expectError(await json('/api/train', { model: 'cnn1', epochs: -1 }), 400, /epochs/);
    await expectError(await json('/api/train', { model: 'cnn1', wat: 1 }), 400, /additional/);
    await expectError(await json('/api/train', { model: 'cnn1', id: '../x' }), 400, /id/);
    await expectError(await json('/api/train', { model: 'cnn1', id: 'tiny' }), 409, /already holds a run/);
    await expectError(await stop('tiny'), 409, /not training/);
  });

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

test('GET /api/openapi.json is generated from the validating schemas', async () => {
  const doc = (await (await get('/api/openapi.json')).json()) as { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema: unknown }[]; requestBody?: { content: Record<string, { schema: { required?: string[]; properties: Record<string, unknown> } }> } }>> };
  assert.match(doc.openapi, /^3\./);
  for (const p of ['/api/runs', '/api/runs/{id}', '/api/runs/{id}/pictures/{name}', '/api/runs/{id}/projection', '/api/predict', '/api/runs/{id}/predict', '/api/model/{file}', '/api/runs/{id}/model/{file}', '/api/train', '/api/runs/{id}/events', '/api/runs/{id}/stop']) assert.ok(doc.paths[p], p);
  const train = doc.paths['/api/train'].post.requestBody!.content['application/json'].schema;
  for (const [p, method] of [['/api/train', 'post'], ['/api/runs/{id}/stop', 'post']]) assert.deepEqual((doc.paths[p][method] as { security?: unknown }).security, [{ token: [] }], `${method} ${p} needs the token`);
  assert.equal((doc.paths['/api/predict'].post as { security?: unknown }).security, undefined, 'predict needs none');
  assert.deepEqual(train.required, S.trainBody.required);
  assert.deepEqual(Object.keys(train.properties), Object.keys(S.trainBody.properties));
  const top = doc.paths['/api/predict'].post.parameters!.find((p) => p.name === 'top');
  assert.equal(top?.in, 'query');
  const id = doc.paths['/api/runs/{id}'].get.parameters!.find((p) => p.name === 'id')!;
  assert.equal((id.schema as { pattern: string }).pattern, S.RUN_ID_PATTERN);
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
