/**
 * The HTTP server: Fastify with its multipart, static, rate-limit and swagger plugins, the access
 * checks (access.ts), and the routes as plugins by resource (routes/), which reach the shared
 * services through `app.services` (services.ts). Route types come from the request schemas
 * (TypeBox type provider); answers are serialised by their response schemas. Nothing heavy runs in
 * this event loop besides one model's predict: training and projections run in worker processes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { initBackend } from '../backend/index.js';
import { THREADS_ENV_VAR } from '../backend/native/index.js';
import { packageVersion } from '../util/package-root.js';
import { errorMessage } from '../util/errors.js';
import { registerAccessChecks } from './access.js';
import { resolveServeConfig, type ServeConfig, type ServeOverride } from './config.js';
import { httpErrorOf } from './errors.js';
import { createServices, stopServices } from './services.js';
import type { TrainingManager } from './training.js';
import { MAX_PARAM_LENGTH, MAX_RUN_ID_LENGTH } from './schemas.js';
import { metaRoutes } from './routes/meta.js';
import { runRoutes } from './routes/runs.js';
import { projectionRoutes } from './routes/projections.js';
import { predictRoutes } from './routes/predict.js';
import { eventRoutes, trainingRoutes } from './routes/training.js';
import { sweepRoutes } from './routes/sweeps.js';

export interface ServeApp {
  app: FastifyInstance;
  config: ServeConfig;
  training: TrainingManager;
  /** Stops workers, ends event streams, lets in-flight requests finish, closes the server. */
  shutdown(): Promise<void>;
}

/**
 * This process's own inference threads: one image at a time, where oneDNN's threads only wait for
 * each other (a 1-image cnn1 forward pass: 16 ms with 2 threads on a busy machine, 0.7 ms with 1);
 * parallelism comes from concurrent requests instead. $FASHION_CNN_THREADS, when set, wins.
 */
function inferenceThreads(config: ServeConfig): number | undefined {
  return process.env[THREADS_ENV_VAR] || config.inferenceThreads <= 0 ? undefined : config.inferenceThreads;
}

export async function buildServer(override: ServeOverride = {}): Promise<ServeApp> {
  const config = resolveServeConfig(override);
  await initBackend(config.backend, { threads: inferenceThreads(config) });
  const app = Fastify({
    // The dashboard's login URL carries the token: never in the log.
    logger: config.logRequests ? { level: 'info', serializers: { req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: req.url.replace(/([?&]token=)[^&#]*/, '$1…'), remoteAddress: req.ip }) } } : false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A URL the router cannot take (a bad escape, a parameter past MAX_PARAM_LENGTH) gets the API's {error} too.
    frameworkErrors: (err, _req, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      const message = status === 414 ? `a path segment is longer than ${MAX_PARAM_LENGTH} characters (run ids are at most ${MAX_RUN_ID_LENGTH})` : 'bad URL: a path segment is not valid percent-encoding';
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
  }).withTypeProvider<TypeBoxTypeProvider>();
  const services = createServices(config);
  app.decorate('services', services);

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
      info: { title: 'fashion-cnn', version: packageVersion(), description: 'Runs, live training, projections and photo classification for Fashion-MNIST CNNs' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'the token fashion-cnn serve prints at start (--token, $FASHION_CNN_TOKEN)' } } },
    },
  });
  await app.register(rateLimit, { global: false });
  await app.register(multipart, { limits: { fileSize: config.maxUploadBytes, files: 1, fields: 10, parts: 12 } });
  // Raw uploads: the body is the image. Other types get Fastify's 415.
  app.addContentTypeParser(/^(image\/[\w.+-]+|application\/octet-stream)$/, { parseAs: 'buffer', bodyLimit: config.maxUploadBytes }, (_req, body, done) => done(null, body));

  await app.register(metaRoutes);
  await app.register(runRoutes);
  await app.register(projectionRoutes);
  await app.register(predictRoutes);
  await app.register(eventRoutes);
  await app.register(sweepRoutes);
  // Training: not registered at all on a read-only server.
  if (!config.readOnly) await app.register(trainingRoutes);

  if (existsSync(config.webDir)) {
    await app.register(fastifyStatic, { root: path.resolve(config.webDir), prefix: '/', wildcard: false, index: ['index.html'] });
  } else {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.code(404).send({ error: `the dashboard is not built (${config.webDir} is missing): run npm run build` }));
  }

  return { app, config, training: services.training, shutdown: () => stopServices(services, () => app.close()) };
}
