/**
 * Sweeps (`fashion-cnn sweep --out <runs>/sweeps/<id>`): the list, one sweep's summary as it stands
 * (its runs' live states from their records and training locks), and a stream of its updates.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { isValidRunId } from '../../runs/index.js';
import { SWEEP_FILE } from '../../sweep/store.js';
import { sweepSummary, type SweepSummary } from '../../sweep/summary.js';
import { SweepListingSchema, SweepSummarySchema } from '../../sweep/records.js';
import { HttpError } from '../errors.js';
import * as S from '../schemas.js';

/** Where sweeps live under the runs folder (the sweep command's default --out). */
const SWEEPS_FOLDER = 'sweeps';
const POLL_MS = 2000;
const SSE_HEARTBEAT_MS = 15_000;

const SweepListSchema = Type.Object({ sweeps: Type.Array(SweepListingSchema) });

export const sweepRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, streams } = app.services;
  const root = path.join(config.runsDir, SWEEPS_FOLDER);
  /** The sweep's summary, its folder shown by id only (answers name no filesystem path). */
  const summaryOf = async (id: string): Promise<SweepSummary> => {
    if (!isValidRunId(id)) throw new HttpError(400, `bad sweep id "${id}": letters, digits, '.', '_' and '-' only`);
    const s = await sweepSummary(path.join(root, id)).catch((e: unknown) => {
      throw new HttpError(422, `sweep ${id} cannot be read: ${(e as Error).message.split(root + path.sep).join('')}`);
    });
    if (!s) throw new HttpError(404, `no sweep "${id}"`);
    return { ...s, dir: id };
  };

  app.get('/api/sweeps', { schema: { summary: 'Every sweep under the runs folder (runs/sweeps/<id>), with how many of its runs are done', response: { 200: SweepListSchema } } }, async () => {
    const names = await fs.readdir(root).catch(() => [] as string[]);
    const sweeps = [];
    for (const id of names.sort()) {
      if (!isValidRunId(id) || !(await fs.stat(path.join(root, id, SWEEP_FILE)).catch(() => null))) continue;
      const s = await summaryOf(id).catch(() => null);
      if (s) sweeps.push({ id, createdAt: s.createdAt, runs: s.jobs.length, counts: s.counts, models: s.definition.models });
    }
    return { sweeps };
  });

  app.get('/api/sweeps/:id', { schema: { summary: "A sweep: its definition, every run's state and figures, and mean ± std per configuration", params: S.runParams, response: { 200: SweepSummarySchema, ...S.ERROR_RESPONSES } } }, async (req) => summaryOf(req.params.id));

  app.get('/api/sweeps/:id/events', { schema: { summary: "Server-Sent Events: the sweep's summary, again each time it changes, then 'end' when no run is left to train", params: S.runParams } }, async (req, reply) => {
    let last = JSON.stringify(await summaryOf(req.params.id));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    streams.add(res);
    const send = (type: string, data: string) => res.write(`event: ${type}\ndata: ${data}\n\n`);
    send('summary', last);
    let timer: NodeJS.Timeout | undefined;
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
    const finish = () => {
      clearInterval(heartbeat);
      clearTimeout(timer);
      streams.delete(res);
    };
    res.on('close', finish);
    const poll = async () => {
      if (res.writableEnded) return;
      const s = await summaryOf(req.params.id).catch(() => null);
      if (s) {
        const text = JSON.stringify(s);
        if (text !== last) send('summary', (last = text));
        if (s.counts.pending + s.counts.running === 0) {
          send('end', JSON.stringify({ type: 'end', status: s.counts.failed ? 'failed' : 'done' }));
          res.end();
          return;
        }
      }
      timer = setTimeout(() => void poll(), POLL_MS);
    };
    timer = setTimeout(() => void poll(), POLL_MS);
  });
};
