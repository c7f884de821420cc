/**
 * Training from the dashboard: start and stop a run (not on a read-only server), and the event
 * stream of a run's epochs, live while this server's worker or another process trains it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { followTraining, readHistory } from '../../runs/index.js';
import { clientValue, HttpError } from '../errors.js';
import type { JobEvent } from '../jobs.js';
import { ActiveTrainingSchema, TrainStartedSchema, TrainStoppingSchema } from '../responses.js';
import * as S from '../schemas.js';

const SSE_HEARTBEAT_MS = 15_000;

/** GET/POST /api/train and POST /api/runs/{id}/stop: the routes that change something. */
export const trainingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, training, runDir } = app.services;

  app.get('/api/train', { schema: { summary: 'The training run in progress, if any', response: { 200: ActiveTrainingSchema } } }, async () => {
    const job = training.active();
    return { active: job ? { id: job.id, startedAt: job.startedAt, epochs: job.rows.length } : null };
  });
  app.post(
    '/api/train',
    {
      schema: { summary: 'Start a training run in a worker process (one at a time: 409 while one runs)', body: S.trainBody, security: S.NEEDS_TOKEN, response: { 202: TrainStartedSchema } },
      config: { rateLimit: { max: config.rateLimit.trainPerMinute, timeWindow: '1 minute' }, changesState: true },
    },
    async (req, reply) => {
      const job = await training.start(req.body);
      return reply.code(202).send({ id: job.id, events: `/api/runs/${job.id}/events` });
    },
  );
  app.post(
    '/api/runs/:id/stop',
    { schema: { summary: 'Stop a training run after its current batch (it keeps its last epoch checkpoint)', params: S.runParams, security: S.NEEDS_TOKEN, response: { 202: TrainStoppingSchema } }, config: { changesState: true } },
    async (req, reply) => {
      runDir(req.params.id);
      if (!training.stop(req.params.id)) throw new HttpError(409, `run ${req.params.id} is not training`);
      return reply.code(202).send({ id: req.params.id, stopping: true });
    },
  );
};

/** GET /api/runs/{id}/events: Server-Sent Events, the run's epoch rows, live progress while it trains, then 'end'. */
export const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, training, streams, runDir } = app.services;

  app.get('/api/runs/:id/events', { schema: { summary: "Server-Sent Events: the run's epoch rows, live batch progress while it trains, then 'end'", params: S.runParams } }, async (req, reply) => {
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
};
