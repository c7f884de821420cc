/**
 * The HTTP server: Fastify with its multipart, static, rate-limit and swagger plugins. Routes read
 * runs through src/runs, classify through src/predict, and hand training and projections to
 * worker processes (jobs.ts): nothing heavy runs in this event loop besides one model's predict.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend, initBackend } from '../backend/index.js';
import { unavailableReason } from '../models/describe.js';
import { findModelSpec, modelNames } from '../models/registry.js';
import { followTraining, isValidRunId, listRuns, PICTURE_FILES, readEvalReport, readHistory, readRunConfig, RUN_FILES, RunFileMissingError, RunNotFoundError, requireRunDir, locateRunModel, runLockHolder } from '../runs/index.js';
import { errorMessage } from '../util/errors.js';
import { registerAccessChecks, tokenRefusal } from './access.js';
import { resolveServeConfig, type ServeConfig, type ServeOverride } from './config.js';
import { clientMessage, clientValue, HttpError, httpErrorOf } from './errors.js';
import type { JobEvent } from './jobs.js';
import { ModelCache, type ServedModel } from './models.js';
import { modelFiles, type ModelFileName } from './model-files.js';
import { ModelBatcher } from './batcher.js';
import { predictUpload } from './predict.js';
import { ConfusionImages } from './confusion.js';
import { createPreprocessor } from './preprocess-pool.js';
import { PROJECTION_DOWNLOADS, ProjectionService, type ProjectionQuery } from './projection.js';
import { readRunFile } from './run-files.js';
import * as S from './schemas.js';
import { TrainingManager, type TrainRequest } from './training.js';

export interface ServeApp {
  app: FastifyInstance;
  config: ServeConfig;
  training: TrainingManager;
  /** Stops workers, ends event streams, lets in-flight requests finish, closes the server. */
  shutdown(): Promise<void>;
}

type IdParams = { id: string };
type PredictQuery = { top?: number; saliency?: boolean };

const PICTURE_NAMES = new Set<string>(PICTURE_FILES.map((f) => RUN_FILES[f]));
const CONTENT_TYPES: Record<string, string> = { '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json', '.tsv': 'text/tab-separated-values', '.pbtxt': 'text/plain' };
const SSE_HEARTBEAT_MS = 15_000;

export async function buildServer(override: ServeOverride = {}): Promise<ServeApp> {
  const config = resolveServeConfig(override);
  // Workers train with the user's thread setting; this process runs one image at a time, where
  // oneDNN's threads only wait for each other (a 1-image cnn1 forward pass: 16 ms with 2 threads on
  // a busy machine, 0.7 ms with 1), and parallelism comes from concurrent requests instead.
  const workerThreads = process.env.FASHION_CNN_THREADS;
  if (config.inferenceThreads > 0) process.env.FASHION_CNN_THREADS ??= String(config.inferenceThreads);
  await initBackend(config.backend);
  const preprocessor = createPreprocessor(config.preprocessThreads);
  const batcher = new ModelBatcher({ maxBatch: config.maxBatch, windowMs: config.batchWindowMs });
  const app = Fastify({
    // The dashboard's login URL carries the token: never in the log.
    logger: config.logRequests ? { level: 'info', serializers: { req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: req.url.replace(/([?&]token=)[^&#]*/, '$1…'), remoteAddress: req.ip }) } } : false,
    routerOptions: { maxParamLength: S.MAX_PARAM_LENGTH },
    // A URL the router cannot take (a bad escape, a parameter past MAX_PARAM_LENGTH) gets the API's {error} too.
    frameworkErrors: (err, _req, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      const message = status === 414 ? `a path segment is longer than ${S.MAX_PARAM_LENGTH} characters (run ids are at most ${S.MAX_RUN_ID_LENGTH})` : 'bad URL: a path segment is not valid percent-encoding';
      return (reply as FastifyReply).code(status).send({ error: message });
    },
    bodyLimit: config.maxUploadBytes,
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.socketIdleTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Node checks the request and header timeouts of open connections every 30 s by default, so a
    // client that trickles its request in could hold a connection for 30 s past the timeout.
    http: {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(60_000, config.requestTimeoutMs),
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(config.requestTimeoutMs / 4))),
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  const models = new ModelCache(config.modelCacheSize);
  const workerEnv = () => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...(config.backend ? { FASHION_CNN_BACKEND: config.backend } : {}) };
    if (workerThreads === undefined) delete env.FASHION_CNN_THREADS;
    else env.FASHION_CNN_THREADS = workerThreads;
    return env;
  };
  const workerOptions = { dataDir: config.dataDir, backend: config.backend };
  const training = new TrainingManager(config.runsDir, workerEnv, workerOptions);
  const projections = new ProjectionService(workerEnv, workerOptions, config.projections);
  const streams = new Set<FastifyReply['raw']>();
  const confusion = new ConfusionImages(config.dataDir);

  const runDir = (id: string) => {
    if (!isValidRunId(id)) throw new HttpError(400, `bad run id "${id}": letters, digits, '.', '_' and '-' only`);
    return path.join(config.runsDir, id);
  };

  app.setErrorHandler((err, req, reply) => {
    const known = httpErrorOf(err, config.runsDir);
    if (known) return reply.code(known.status).headers(known.headers).send({ error: known.message });
    req.log.error(err);
    if (!config.logRequests) process.stderr.write(`fashion-cnn serve: internal error on ${req.method} ${req.url}: ${(err as Error).stack ?? errorMessage(err)}\n`);
    return reply.code(500).send({ error: 'internal error (see the server log)' });
  });
  const readOnlyNote = config.readOnly ? ' (this server is read-only: it has no training routes)' : '';
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such route: ${req.method} ${req.url.split('?')[0]}${req.method === 'GET' || req.method === 'HEAD' ? '' : readOnlyNote}` }));
  registerAccessChecks(app, config);

  await app.register(swagger, {
    openapi: {
      info: { title: 'fashion-cnn', version: process.env.npm_package_version ?? '0.1.0', description: 'Runs, live training, projections and photo classification for Fashion-MNIST CNNs' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'the token fashion-cnn serve prints at start (--token, $FASHION_CNN_TOKEN)' } } },
    },
  });
  await app.register(rateLimit, { global: false });
  await app.register(multipart, { limits: { fileSize: config.maxUploadBytes, files: 1, fields: 10, parts: 12 } });
  // Raw uploads: the body is the image. Other types get Fastify's 415.
  app.addContentTypeParser(/^(image\/[\w.+-]+|application\/octet-stream)$/, { parseAs: 'buffer', bodyLimit: config.maxUploadBytes }, (_req, body, done) => done(null, body));

  const limit = (max: number) => ({ rateLimit: { max, timeWindow: '1 minute' } });

  app.get('/healthz', { schema: { hide: true } }, async () => ({
    ok: true,
    backend: currentBackend()?.name ?? null,
    training: training.active()?.id ?? null,
    tensors: tf.memory().numTensors,
    rss: process.memoryUsage().rss,
    batches: { ...batcher.stats },
    projections: projections.stats,
  }));
  app.get('/api/server', { schema: { summary: "What this server allows: whether it is read-only, whether writes need a token, and whether this request's token is the right one" } }, async (req) => ({
    readOnly: config.readOnly,
    tokenRequired: !config.readOnly && config.token !== '',
    tokenAccepted: !config.readOnly && tokenRefusal(req.headers.authorization, config.token) === null,
  }));
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/api/models', { schema: { summary: 'The models that can be trained, with the article\'s figures' } }, async () => ({
    models: await Promise.all(
      modelNames().map(async (name) => {
        const spec = findModelSpec(name)!;
        // A transfer model whose backbone or weights are not on this machine is listed with the reason.
        const reason = await unavailableReason(spec);
        return { name, title: spec.title, kind: spec.kind, article: spec.article ?? null, available: reason === null, ...(reason ? { reason: clientMessage(reason, config.runsDir) } : {}) };
      }),
    ),
  }));

  app.get('/api/runs', { schema: { summary: 'Every run under the runs folder, with its latest evaluation' } }, async () => {
    const runs = await listRuns(config.runsDir);
    return {
      runs: runs.map((r) => ({
        id: r.id,
        model: r.config?.model ?? null,
        createdAt: r.config?.createdAt ?? null,
        params: r.config?.params.total ?? null,
        hyper: r.config ? { epochs: r.config.hyper.epochs, augEpochs: r.config.hyper.augEpochs, limit: r.config.hyper.limit } : null,
        lastEval: r.lastEval ? { phase: r.lastEval.phase, epoch: r.lastEval.epoch, test_acc: r.lastEval.test_acc, test_loss: r.lastEval.test_loss } : null,
        article: (r.config && findModelSpec(r.config.model)?.article) ?? null,
        training: training.active()?.id === r.id || r.trainedBy !== null,
        ...(r.error ? { error: clientMessage(r.error, config.runsDir) } : {}),
        // A folder made by hand (or by the CLI) can have a longer name than a route takes.
        ...(r.id.length > S.MAX_RUN_ID_LENGTH ? { error: `run id longer than ${S.MAX_RUN_ID_LENGTH} characters: not served (rename the folder)` } : {}),
      })),
    };
  });

  app.get<{ Params: IdParams }>('/api/runs/:id', { schema: { summary: 'A run: config, history, evaluation, pictures', params: S.runParams, response: S.ERROR_RESPONSES } }, async (req) => {
    const dir = runDir(req.params.id);
    // In this order, so that a damaged config.json is what a damaged run reports.
    const config = await readRunConfig(dir);
    const history = await readHistory(dir);
    const evalReport = await readEvalReport(dir);
    const pictures: string[] = [];
    for (const name of PICTURE_NAMES) if (await fs.stat(path.join(dir, name)).catch(() => null)) pictures.push(name);
    const model = await locateRunModel(dir).then((m) => ({ fromCheckpoint: m.fromCheckpoint }), () => null);
    return { id: req.params.id, config, history, eval: evalReport, pictures, model, training: training.active()?.id === req.params.id || (await runLockHolder(dir)) !== null };
  });

  app.get<{ Params: { id: string; name: string } }>('/api/runs/:id/pictures/:name', { schema: { summary: "One of a run's pictures", params: S.pictureParams, response: S.ERROR_RESPONSES } }, async (req, reply) => {
    const dir = runDir(req.params.id);
    await requireRunDir(dir);
    if (!PICTURE_NAMES.has(req.params.name)) throw new HttpError(404, `no picture "${req.params.name}" (one of ${[...PICTURE_NAMES].join(', ')})`);
    return sendFile(reply, dir, path.join(dir, req.params.name), `${req.params.id}/${req.params.name}`);
  });

  app.get<{ Params: { id: string; t: number; p: number } }>(
    '/api/runs/:id/confusion/:t/:p.png',
    { schema: { summary: 'The test images of true class t that the run classifies as p (a grid PNG; header x-image-count)', params: S.confusionParams, response: S.ERROR_RESPONSES } },
    async (req, reply) => {
      const { png, count } = await confusion.png(await models.get(runDir(req.params.id)), req.params.t, req.params.p);
      reply.header('content-type', 'image/png').header('x-image-count', String(count));
      return png;
    },
  );

  app.get<{ Params: IdParams; Querystring: ProjectionQuery }>(
    '/api/runs/:id/projection',
    { schema: { summary: "A projection of the run's test images (pixels or learned features), computed on first request and cached in the run", params: S.runParams, querystring: S.projectionQuery }, config: limit(config.rateLimit.projectionPerMinute) },
    async (req, reply) => {
      const run = runDir(req.params.id);
      const dir = await projections.ensure(run, req.query);
      return sendFile(reply, run, path.join(dir, 'projection.json'), 'projection.json');
    },
  );

  app.get<{ Params: { id: string; file: string }; Querystring: ProjectionQuery }>(
    '/api/runs/:id/projection/files/:file',
    { schema: { summary: "A file of a projection (sprite, TensorBoard projector's tensors.tsv, metadata.tsv, projector_config.json...)", params: S.projectionFileParams, querystring: S.projectionQuery }, config: limit(config.rateLimit.projectionPerMinute) },
    async (req, reply) => {
      if (!(PROJECTION_DOWNLOADS as readonly string[]).includes(req.params.file)) throw new HttpError(404, `no projection file "${req.params.file}" (one of ${PROJECTION_DOWNLOADS.join(', ')})`);
      const run = runDir(req.params.id);
      const dir = await projections.ensure(run, req.query);
      if (req.params.file.endsWith('.tsv') || req.params.file.endsWith('.pbtxt')) reply.header('content-disposition', `attachment; filename="${req.params.file}"`);
      return sendFile(reply, run, path.join(dir, req.params.file), req.params.file);
    },
  );

  // Classifications under way: a shutdown lets them finish before it stops the preprocessing pool.
  const inflight = new Set<Promise<unknown>>();
  // The folder is the server's business: its path stays in the server's own output.
  const noDefaultModel = 'no default model: the server\'s default model folder holds no trained model (start the server with --default-model RUN_DIR, or use /api/runs/{id}/predict)';
  const defaultModel = () =>
    models.get(config.defaultModelDir).catch((e: unknown) => {
      if (e instanceof RunNotFoundError || e instanceof RunFileMissingError) throw new HttpError(503, noDefaultModel);
      throw e;
    });
  const predictWith = async (req: FastifyRequest<{ Querystring: PredictQuery }>, served: () => Promise<ServedModel>) => {
    const bytes = await uploadBytes(req);
    const { model, tta } = await served();
    const answer = predictUpload({ model, tta }, preprocessor, batcher, bytes, req.query.top ?? config.top, req.query.saliency ?? true);
    inflight.add(answer);
    try {
      return { ...(await answer), model: model.name };
    } finally {
      inflight.delete(answer);
    }
  };
  // The model files the dashboard loads to classify in the browser (TF.js), written from the very model /predict uses.
  const sendModelFile = async (req: FastifyRequest, reply: FastifyReply, served: ServedModel, file: ModelFileName) => {
    const files = await modelFiles(served);
    reply.header('etag', files.etag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === files.etag) return reply.code(304).send();
    reply.header('content-type', file === 'model.json' ? 'application/json' : 'application/octet-stream');
    return files[file];
  };
  app.get<{ Params: { file: ModelFileName } }>('/api/model/:file', { schema: { summary: 'The default model as TF.js layers-model files', params: S.modelFileParams, response: S.ERROR_RESPONSES } }, async (req, reply) =>
    sendModelFile(req, reply, await defaultModel(), req.params.file),
  );
  app.get<{ Params: { id: string; file: ModelFileName } }>(
    '/api/runs/:id/model/:file',
    { schema: { summary: "A run's model as TF.js layers-model files", params: S.runModelFileParams, response: S.ERROR_RESPONSES } },
    async (req, reply) => sendModelFile(req, reply, await models.get(runDir(req.params.id)), req.params.file),
  );

  const predictSchema = { querystring: S.predictQuery, consumes: S.PREDICT_CONSUMES, response: S.predictResponse };

  app.post<{ Querystring: PredictQuery }>('/api/predict', { schema: { ...predictSchema, summary: 'Classify a photo with the default model' }, config: limit(config.rateLimit.predictPerMinute) }, async (req) =>
    predictWith(req, defaultModel),
  );
  app.post<{ Params: IdParams; Querystring: PredictQuery }>(
    '/api/runs/:id/predict',
    { schema: { ...predictSchema, params: S.runParams, summary: "Classify a photo with a run's model" }, config: limit(config.rateLimit.predictPerMinute) },
    async (req) => predictWith(req, () => models.get(runDir(req.params.id))),
  );

  // Training: not registered at all on a read-only server.
  if (!config.readOnly) {
    app.get('/api/train', { schema: { summary: 'The training run in progress, if any' } }, async () => {
      const job = training.active();
      return { active: job ? { id: job.id, startedAt: job.startedAt, epochs: job.rows.length } : null };
    });
    app.post<{ Body: TrainRequest }>('/api/train', { schema: { summary: 'Start a training run in a worker process (one at a time: 409 while one runs)', body: S.trainBody, security: S.NEEDS_TOKEN }, config: { ...limit(config.rateLimit.trainPerMinute), changesState: true } }, async (req, reply) => {
      const job = await training.start(req.body);
      return reply.code(202).send({ id: job.id, events: `/api/runs/${job.id}/events` });
    });
    app.post<{ Params: IdParams }>('/api/runs/:id/stop', { schema: { summary: 'Stop a training run after its current batch (it keeps its last epoch checkpoint)', params: S.runParams, security: S.NEEDS_TOKEN }, config: { changesState: true } }, async (req, reply) => {
      runDir(req.params.id);
      if (!training.stop(req.params.id)) throw new HttpError(409, `run ${req.params.id} is not training`);
      return reply.code(202).send({ id: req.params.id, stopping: true });
    });
  }

  app.get<{ Params: IdParams }>('/api/runs/:id/events', { schema: { summary: "Server-Sent Events: the run's epoch rows, live batch progress while it trains, then 'end'", params: S.runParams } }, async (req, reply) => {
    const dir = runDir(req.params.id);
    const job = training.job(req.params.id);
    const rows = job ? null : await readHistory(dir);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // The worker's messages (a failure's, a log line) may name files: shown as in error bodies.
    const write = (ev: JobEvent | { type: 'epoch'; row: unknown }) => res.write(`event: ${ev.type}\ndata: ${JSON.stringify(clientValue(ev, config.runsDir))}\n\n`);
    if (!job) {
      for (const row of rows!) write({ type: 'epoch', row });
      // A run another process (the CLI) trains: its rows as recorded, until that process lets go of it.
      const closed = new AbortController();
      res.on('close', () => closed.abort());
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
      const status = await followTraining(dir, rows!.length, (row) => write({ type: 'epoch', row }), { signal: closed.signal }).finally(() => clearInterval(heartbeat));
      if (!closed.signal.aborted) write({ type: 'end', status });
      res.end();
      return;
    }
    for (const row of job.rows) write({ type: 'epoch', row });
    if (job.lastBatch) write(job.lastBatch);
    if (!job.running && job.status !== 'running') {
      write({ type: 'end', status: job.status, message: job.message });
      res.end();
      return;
    }
    streams.add(res);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
    const listener = (ev: JobEvent) => {
      write(ev);
      if (ev.type === 'end') res.end();
    };
    job.on('event', listener);
    res.on('close', () => {
      clearInterval(heartbeat);
      job.off('event', listener);
      streams.delete(res);
    });
  });

  if (existsSync(config.webDir)) {
    await app.register(fastifyStatic, { root: path.resolve(config.webDir), prefix: '/', wildcard: false, index: ['index.html'] });
  } else {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.code(404).send({ error: `the dashboard is not built (${config.webDir} is missing): run npm run build` }));
  }

  const shutdown = async () => {
    await Promise.all([training.shutdown(config.shutdownGraceMs), projections.stopAll()]);
    for (const res of streams) res.end();
    await app.close();
    await Promise.allSettled([...inflight]);
    await preprocessor.close();
    models.clear();
  };
  return { app, config, training, shutdown };
}

/** A file of a run, if it is a regular file inside it (run-files.ts). */
async function sendFile(reply: FastifyReply, run: string, file: string, name: string): Promise<Buffer> {
  const data = await readRunFile(run, file, name);
  reply.header('content-type', CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream');
  return data;
}

/** The image bytes of an upload: a multipart file, or the raw body. */
async function uploadBytes(req: FastifyRequest): Promise<Buffer> {
  if (req.isMultipart()) {
    // The parser's own complaints (no boundary, a cut-off part) are the client's: a 400, not a 500.
    const malformed = (e: unknown) => ((e as { statusCode?: unknown }).statusCode ? e : new HttpError(400, `malformed multipart/form-data upload (${errorMessage(e)}): send the image in a file field of a form, or its bytes with an image/* content type`));
    const part = await req.file().catch((e: unknown) => Promise.reject(malformed(e)));
    if (!part) throw new HttpError(400, 'the multipart upload holds no file (send the image in a file field)');
    return part.toBuffer().catch((e: unknown) => Promise.reject(malformed(e)));
  }
  if (Buffer.isBuffer(req.body)) {
    if (req.body.length === 0) throw new HttpError(400, 'empty upload');
    return req.body;
  }
  if (req.body === undefined || req.body === null) throw new HttpError(400, 'no image: send multipart/form-data with a file, or the image bytes with an image/* content type');
  throw new HttpError(415, `not an image upload (content type ${req.headers['content-type'] ?? 'none'}): send multipart/form-data with a file, or the image bytes with an image/* content type`);
}
