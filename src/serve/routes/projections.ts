/** Projections of a run's test images, computed in a worker on first request and cached in the run. */
import path from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HttpError } from '../errors.js';
import { PROJECTION_DOWNLOADS } from '../projection.js';
import { sendRunFile } from '../run-files.js';
import * as S from '../schemas.js';

export const projectionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, projections, runDir } = app.services;
  const limit = { rateLimit: { max: config.rateLimit.projectionPerMinute, timeWindow: '1 minute' } };

  app.get(
    '/api/runs/:id/projection',
    { schema: { summary: "A projection of the run's test images (pixels or learned features), computed on first request and cached in the run", params: S.runParams, querystring: S.projectionQuery }, config: limit },
    async (req, reply) => {
      const run = runDir(req.params.id);
      const dir = await projections.ensure(run, req.query);
      return sendRunFile(reply, run, path.join(dir, 'projection.json'), 'projection.json');
    },
  );

  app.get(
    '/api/runs/:id/projection/files/:file',
    { schema: { summary: "A file of a projection (sprite, TensorBoard projector's tensors.tsv, metadata.tsv, projector_config.json...)", params: S.projectionFileParams, querystring: S.projectionQuery }, config: limit },
    async (req, reply) => {
      if (!(PROJECTION_DOWNLOADS as readonly string[]).includes(req.params.file)) throw new HttpError(404, `no projection file "${req.params.file}" (one of ${PROJECTION_DOWNLOADS.join(', ')})`);
      const run = runDir(req.params.id);
      const dir = await projections.ensure(run, req.query);
      if (req.params.file.endsWith('.tsv') || req.params.file.endsWith('.pbtxt')) reply.header('content-disposition', `attachment; filename="${req.params.file}"`);
      return sendRunFile(reply, run, path.join(dir, req.params.file), req.params.file);
    },
  );
};
