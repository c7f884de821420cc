/**
 * The server's bad-input table: requests the HTTP API must refuse (or take) and how it answers.
 * test/unit/reliability-http.test.ts runs each case against its own server (http-harness.ts) and
 * asserts its status and error message; `npm run reliability:doc` writes them as the Server
 * section of docs/RELIABILITY.md with what was observed.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CASE_HOST, CASE_RUN, CASE_TOKEN, type HttpCase, type HttpCaseContext } from './http-harness.js';

const withToken = { authorization: `Bearer ${CASE_TOKEN}` };
const stop = `/api/runs/${CASE_RUN}/stop`;
const projection = (query: string) => `/api/runs/${CASE_RUN}/projection?source=pixels&method=pca&${query}`;
const longId = 'r'.repeat(101);

/** Waits until the server's /healthz satisfies `ok` (the server's own view of its workers). */
async function untilHealth(ctx: HttpCaseContext, ok: (h: { projections?: { running: number; queued: number } }) => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (ok((await ctx.server.app.inject({ url: '/healthz', headers: { host: CASE_HOST } })).json())) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the server never reached the expected state');
}

/** Asks for a projection and waits for it (setup steps). */
async function project(ctx: HttpCaseContext, query: string): Promise<void> {
  const res = await ctx.server.app.inject({ url: projection(query), headers: { host: CASE_HOST } });
  assert.equal(res.statusCode, 200, res.body);
}

const cachedProjections = async (ctx: HttpCaseContext) => (await fs.readdir(path.join(ctx.runs, CASE_RUN, 'embed'))).filter((n) => n.startsWith('serve-')).sort();

export const HTTP_CASES: readonly HttpCase[] = [
  // --- Who may drive the server: Host, Origin, token, read-only.
  { id: 'H01', given: 'a DNS-rebinding page: Host names another site', request: { url: '/api/runs', headers: { host: 'evil.example:8080' } }, status: 403, error: /^refused: Host "evil\.example:8080" is not a name this server answers to .*--allow-host evil\.example/ },
  { id: 'H02', given: 'Host localhost (a loopback name)', request: { url: '/api/runs', headers: { host: 'localhost:8080' } }, status: 200 },
  { id: 'H03', given: '--allow-host fashion.lan, and Host fashion.lan', server: () => ({ allowHosts: ['fashion.lan'] }), request: { url: '/api/runs', headers: { host: 'fashion.lan:8080' } }, status: 200 },
  { id: 'H04', given: "another site's plain HTML form posting to stop (no token)", request: { method: 'POST', url: stop, headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' }, status: 403, error: /^refused: a cross-origin request \(Origin http:\/\/evil\.example\) may not change anything/ },
  { id: 'H05', given: 'a cross-origin request carrying the right token', request: { method: 'POST', url: stop, headers: { origin: 'http://evil.example', ...withToken } }, status: 403, error: /cross-origin request \(Origin http:\/\/evil\.example\)/ },
  { id: 'H06', given: 'Origin null (a sandboxed page or a file)', request: { method: 'POST', url: stop, headers: { origin: 'null', ...withToken } }, status: 403, error: /cross-origin request \(Origin null\)/ },
  { id: 'H07', given: 'no Origin, Sec-Fetch-Site: cross-site', request: { method: 'POST', url: stop, headers: { 'sec-fetch-site': 'cross-site', ...withToken } }, status: 403, error: /cross-origin request \(Sec-Fetch-Site: cross-site\)/ },
  { id: 'H08', given: 'the same origin and the token: the route itself answers (nothing trains)', request: { method: 'POST', url: stop, headers: { origin: `http://${CASE_HOST}`, ...withToken } }, status: 409, error: /^run fake is not training$/ },
  {
    id: 'H09', given: 'stop without a token', request: { method: 'POST', url: stop }, status: 401, error: /^this route changes something and needs the server's token: send Authorization: Bearer TOKEN/,
    check: (res) => {
      assert.match(String(res.headers['www-authenticate']), /^Bearer /);
      return `${res.json<{ error: string }>().error} (WWW-Authenticate: ${String(res.headers['www-authenticate'])})`;
    },
  },
  { id: 'H10', given: 'stop with a wrong token', request: { method: 'POST', url: stop, headers: { authorization: 'Bearer guessed' } }, status: 401, error: /^wrong token/ },
  { id: 'H11', given: 'train without a token', request: { method: 'POST', url: '/api/train', body: { model: 'cnn1', epochs: 1 } }, status: 401, error: /needs the server's token/ },
  { id: 'H12', given: "--token '' (loopback): the token check is off", server: () => ({ token: '' }), request: { method: 'POST', url: stop }, status: 409, error: /^run fake is not training$/ },
  {
    id: 'H13', given: 'POST /api/predict without a token: classifying only reads', status: 200,
    request: async (ctx) => ({ method: 'POST', url: '/api/predict', headers: { 'content-type': 'image/png' }, body: await fs.readFile(ctx.fx.photo) }),
    check: (res) => `classified: the top ${res.json<{ top: unknown[] }>().top.length} classes with their probabilities`,
  },
  { id: 'H14', given: '--read-only: train', server: () => ({ readOnly: true }), request: { method: 'POST', url: '/api/train', headers: withToken, body: { model: 'cnn1' } }, status: 404, error: /^no such route: POST \/api\/train \(this server is read-only: it has no training routes\)$/ },
  { id: 'H15', given: '--read-only: stop', server: () => ({ readOnly: true }), request: { method: 'POST', url: stop, headers: withToken }, status: 404, error: /read-only: it has no training routes/ },

  // --- Resources and messages.
  { id: 'H16', given: 'multipart/form-data without a boundary', request: { method: 'POST', url: '/api/predict', headers: { 'content-type': 'multipart/form-data' }, body: 'x' }, status: 400, error: /^malformed multipart\/form-data upload \(Multipart: Boundary not found\)/ },
  { id: 'H17', given: 'a projection of 11 points (the worker needs 12)', request: { url: projection('count=11') }, status: 400, error: /^querystring\/count must be >= 12$/ },
  {
    id: 'H18', given: 'a projection while another is computed (1 worker, no queue)', server: () => ({ projections: { workers: 1, queue: 0 } }), status: 503, error: /^busy: 1 projection\(s\) computing and 0 waiting; try again in 15 s/,
    setup: async (ctx) => {
      ctx.background.push(project(ctx, 'count=12'));
      await untilHealth(ctx, (h) => h.projections?.running === 1);
    },
    request: { url: projection('count=13') },
    check: (res) => {
      assert.equal(res.headers['retry-after'], '15');
      return `${res.json<{ error: string }>().error} (Retry-After: 15)`;
    },
  },
  {
    id: 'H19', given: 'a third projection of a run that keeps 2: the least recently used goes', server: () => ({ projections: { cachedPerRun: 2 } }), status: 200,
    setup: async (ctx) => {
      for (const q of ['count=12', 'count=13', 'count=12']) await project(ctx, q);
    },
    request: { url: projection('count=14') },
    check: async (_res, ctx) => {
      const kept = await cachedProjections(ctx);
      assert.deepEqual(kept, ['serve-pixels-pca-2d-12', 'serve-pixels-pca-2d-14']);
      return `kept: ${kept.join(', ')}`;
    },
  },
  { id: 'H20', given: 'train with a run id of 101 characters', request: { method: 'POST', url: '/api/train', headers: withToken, body: { model: 'cnn1', id: longId } }, status: 400, error: /^body\/id must NOT have more than 100 characters$/ },
  { id: 'H21', given: 'a run id of 101 characters in a route', request: { url: `/api/runs/${longId}` }, status: 400, error: /^params\/id must NOT have more than 100 characters$/ },
  {
    id: 'H22', given: 'a run folder named with 101 characters (made by hand): listed, with why it is not served', status: 200,
    setup: async (ctx) => {
      await fs.cp(path.join(ctx.runs, CASE_RUN), path.join(ctx.runs, longId), { recursive: true });
    },
    request: { url: '/api/runs' },
    check: (res) => {
      const row = res.json<{ runs: { id: string; error?: string }[] }>().runs.find((r) => r.id === longId);
      assert.match(row?.error ?? '', /^run id longer than 100 characters: not served/);
      return row!.error;
    },
  },
  { id: 'H23', given: "--runs CASE/x/../runs (not normalised), a run that does not exist", server: (ctx) => ({ runsDir: `${ctx.dir}/x/../runs` }), request: { url: '/api/runs/nope' }, status: 404, error: /^run directory nope does not exist$/ },
  {
    id: 'H24', given: 'no default model (its folder holds none)', server: (ctx) => ({ defaultModelDir: path.join(ctx.dir, 'no-model') }), status: 503, error: /^no default model: the server's default model folder holds no trained model/,
    request: async (ctx) => ({ method: 'POST', url: '/api/predict', headers: { 'content-type': 'image/png' }, body: await fs.readFile(ctx.fx.photo) }),
  },
  {
    id: 'H25', given: "the models, vgg19's weights not on this machine", request: { url: '/api/models' }, status: 200,
    check: (res) => {
      const vgg = res.json<{ models: { name: string; available: boolean; reason?: string }[] }>().models.find((m) => m.name === 'vgg19');
      assert.equal(vgg?.available, false);
      assert.match(vgg.reason ?? '', /put it in …\/weights,/);
      return `vgg19: ${vgg.reason}`;
    },
  },
  {
    id: 'H26', given: 'train vgg19 while /api/models lists it as unavailable', status: 422, error: /^model vgg19 cannot be trained on this server: vgg19 needs Keras's ImageNet weights/,
    request: { method: 'POST', url: '/api/train', headers: withToken, body: { model: 'vgg19', id: 'vgg' } },
    check: async (res, ctx) => {
      const models = (await ctx.server.app.inject({ url: '/api/models', headers: { host: CASE_HOST } })).json<{ models: { name: string; reason?: string }[] }>().models;
      const reason = models.find((m) => m.name === 'vgg19')?.reason;
      assert.ok(reason && res.json<{ error: string }>().error.endsWith(`: ${reason}`), 'the reason /api/models gives');
      await assert.rejects(fs.access(path.join(ctx.runs, 'vgg')), 'no run folder made');
    },
  },
  {
    id: 'H27', given: "the event stream of a training run that failed on a missing --data-dir: its end event's message", server: (ctx) => ({ dataDir: path.join(ctx.dir, 'no-data') }), status: 200,
    setup: async (ctx) => {
      const res = await ctx.server.app.inject({ method: 'POST', url: '/api/train', headers: { host: CASE_HOST, ...withToken }, payload: { model: 'cnn1', id: 'doomed', epochs: 1, augEpochs: 0, pictures: false } });
      assert.equal(res.statusCode, 202, res.body);
    },
    request: { url: '/api/runs/doomed/events' },
    check: (res) => {
      const end = res.body.trim().split('\n\n').at(-1) ?? '';
      assert.match(end, /^event: end\ndata: /);
      const data = JSON.parse(end.split('\n')[1].slice('data: '.length)) as { status: string; message: string };
      assert.equal(data.status, 'failed');
      assert.match(data.message, /no-data/);
      return `end: ${data.message}`;
    },
  },
  {
    id: 'H28', given: "a run's curves.png is a symbolic link to a file outside the run", status: 403, error: /^fake\/curves\.png is not a regular file inside the run/,
    setup: async (ctx) => fs.symlink(ctx.fx.photo, path.join(ctx.runs, CASE_RUN, 'curves.png')),
    request: { url: `/api/runs/${CASE_RUN}/pictures/curves.png` },
  },
  {
    id: 'H29', given: "a cached projection's folder is a symbolic link to a folder outside the run", status: 403, error: /^projection\.json is not a regular file inside the run/,
    setup: async (ctx) => {
      const outside = path.join(ctx.dir, 'outside');
      await fs.mkdir(outside);
      await fs.writeFile(path.join(outside, 'projection.json'), '{"secret": true}');
      await fs.mkdir(path.join(ctx.runs, CASE_RUN, 'embed'));
      await fs.symlink(outside, path.join(ctx.runs, CASE_RUN, 'embed', 'serve-pixels-pca-2d-12'));
    },
    request: { url: projection('count=12') },
  },
];
