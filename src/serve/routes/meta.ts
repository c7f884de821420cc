/** What the server is and allows: health, access, the OpenAPI description, the models it can train. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend } from '../../backend/index.js';
import { unavailableReason } from '../../models/describe.js';
import { findModelSpec, modelNames } from '../../models/registry.js';
import type { ArticleFigures } from '../../models/spec.js';
import { tokenRefusal } from '../access.js';
import { clientMessage } from '../errors.js';
import { ModelListSchema, ServerAccessSchema, type ModelInfo } from '../responses.js';

// The answer's schema and the registry's type must agree (a compile-time check).
const sameFigures: ArticleFigures extends NonNullable<ModelInfo['article']> ? (NonNullable<ModelInfo['article']> extends ArticleFigures ? true : false) : false = true;
void sameFigures;

export const metaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, training, batcher, projections } = app.services;

  app.get('/healthz', { schema: { hide: true } }, async () => ({
    ok: true,
    backend: currentBackend()?.name ?? null,
    training: training.active()?.id ?? null,
    tensors: tf.memory().numTensors,
    rss: process.memoryUsage().rss,
    batches: { ...batcher.stats },
    projections: projections.stats,
  }));

  app.get(
    '/api/server',
    { schema: { summary: "What this server allows: whether it is read-only, whether writes need a token, and whether this request's token is the right one", response: { 200: ServerAccessSchema } } },
    async (req) => ({
      readOnly: config.readOnly,
      tokenRequired: !config.readOnly && config.token !== '',
      tokenAccepted: !config.readOnly && tokenRefusal(req.headers.authorization, config.token) === null,
    }),
  );

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/api/models', { schema: { summary: "The models that can be trained, with the article's figures", response: { 200: ModelListSchema } } }, async () => ({
    models: await Promise.all(
      modelNames().map(async (name) => {
        const spec = findModelSpec(name)!;
        // A transfer model whose backbone or weights are not on this machine is listed with the reason.
        const reason = await unavailableReason(spec);
        return { name, title: spec.title, kind: spec.kind, article: spec.article ?? null, available: reason === null, ...(reason ? { reason: clientMessage(reason, config.runsDir) } : {}) };
      }),
    ),
  }));
};
