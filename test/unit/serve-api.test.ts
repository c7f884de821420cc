/**
 * The HTTP API's routes and their error cases, answered in this process through Fastify's inject()
 * (no socket), on a copy of the shared tiny trained run (test/helpers/trained-run.ts): runs,
 * pictures, predict (multipart and raw, batched), model files, the default model, the training
 * route's refusals, OpenAPI. What needs a real socket, a worker process or a training is
 * test/integration/serve-api.test.ts's.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { classifyWithModel } from '../../src/predict/index.js';
import { buildServer, type ServeApp } from '../../src/serve/index.js';
import * as S from '../../src/serve/schemas.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { injectFetch } from '../helpers/inject-fetch.js';
import { GARMENT_SHAPES, simplePhoto } from '../helpers/predict-fixtures.js';
import { copyTrainedRun } from '../helpers/trained-run.js';

let dir = '';
let runs = '';
let server: ServeApp;
let fetchApi: (url: string, init?: RequestInit) => Promise<Response>;
let photo: Buffer;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'serve-api-'));
  runs = path.join(dir, 'runs');
  await copyTrainedRun(path.join(runs, 'tiny'));
  await fs.mkdir(path.join(runs, 'damaged'));
  await fs.writeFile(path.join(runs, 'damaged', 'config.json'), '{ not json');
  photo = await simplePhoto('jpeg', 224, 224);
  server = await buildServer({ runsDir: runs, port: 0, defaultModelDir: path.join(runs, 'tiny'), maxUploadBytes: 200_000 });
  fetchApi = injectFetch(server.app);
});

after(async () => {
  await server?.shutdown();
  await fs.rm(dir, { recursive: true, force: true });
});

const get = (p: string) => fetchApi(p);
const post = (p: string, body: Buffer | string, type?: string) => fetchApi(p, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers: type ? { 'content-type': type } : {} });
/** Routes that change something (train, stop) take the server's token. */
const withToken = () => ({ authorization: `Bearer ${server.config.token}` });
const json = (p: string, value: unknown) => fetchApi(p, { method: 'POST', body: JSON.stringify(value), headers: { 'content-type': 'application/json', ...withToken() } });
const stop = (id: string) => fetchApi(`/api/runs/${id}/stop`, { method: 'POST', headers: withToken() });

async function expectError(res: Response, status: number, re: RegExp): Promise<void> {
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body), ['error'], 'errors are {error} only, no stack');
  assert.match(String(body.error), re);
  assert.doesNotMatch(String(body.error), /\n\s+at /);
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
    // A raw '..' (which fetch() and inject() resolve away) is the socket test's (test/integration/serve-api.test.ts).
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

  test('unknown routes are JSON 404s', async () => {
    await expectError(await get('/api/nothing'), 404, /no such route/);
  });
});

describe('predict', () => {
  test('multipart upload: top-3, the 28x28 input and a saliency map', async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'shirt.jpg');
    const res = await fetchApi('/api/predict', { method: 'POST', body: form });
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
    await expectError(await fetchApi('/api/predict', { method: 'POST', body: form }), 413, /too large/);
    const noFile = new FormData();
    noFile.append('name', 'x');
    await expectError(await fetchApi('/api/predict', { method: 'POST', body: noFile }), 400, /no file/);
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
    const at = injectFetch(batching.app);
    try {
      const ask = async (body: Buffer) => {
        const res = await at('/api/predict?top=10', { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'image/jpeg' } });
        assert.equal(res.status, 200);
        return (await res.json()) as Answer;
      };
      const pixels = async (url: string) => (await sharp(Buffer.from(url.split(',')[1], 'base64')).raw().toBuffer()) as Buffer;
      const alone: Answer[] = [];
      for (const u of uploads) alone.push(await ask(u));
      assert.ok(new Set(alone.map((a) => a.top[0].class)).size >= 2, 'the photos are classified differently');
      const health = async () => ((await (await at('/healthz')).json()) as { batches: { batches: number; frames: number } }).batches;
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
