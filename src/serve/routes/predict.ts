/** Classifying a photo (the default model or a run's), and the model files the dashboard runs in the browser. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RunFileMissingError, RunNotFoundError } from '../../runs/index.js';
import { errorMessage } from '../../util/errors.js';
import { HttpError } from '../errors.js';
import { modelFiles, type ModelFileName } from '../model-files.js';
import type { ServedModel } from '../models.js';
import { predictUpload } from '../predict.js';
import { FileSchema, PredictionSchema } from '../responses.js';
import * as S from '../schemas.js';

// The folder is the server's business: its path stays in the server's own output.
const NO_DEFAULT_MODEL = "no default model: the server's default model folder holds no trained model (start the server with --default-model RUN_DIR, or use /api/runs/{id}/predict)";

const MODEL_FILE = FileSchema('model.json or weights.bin (304 when If-None-Match has its ETag)');

export const predictRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, models, preprocessor, batcher, inflight, runDir } = app.services;
  const limit = { rateLimit: { max: config.rateLimit.predictPerMinute, timeWindow: '1 minute' } };

  const defaultModel = () =>
    (config.defaultEnsemble.length ? models.getEnsemble(config.defaultEnsemble) : models.get(config.defaultModelDir)).catch((e: unknown) => {
      if (e instanceof RunNotFoundError || e instanceof RunFileMissingError) throw new HttpError(503, NO_DEFAULT_MODEL);
      throw e;
    });

  const predictWith = async (req: FastifyRequest, query: { top: number; saliency: boolean }, served: () => Promise<ServedModel>) => {
    const bytes = await uploadBytes(req);
    const { model, tta } = await served();
    const answer = predictUpload({ model, tta }, preprocessor, batcher, bytes, query.top, query.saliency);
    inflight.add(answer);
    try {
      return { ...(await answer), model: model.name };
    } finally {
      inflight.delete(answer);
    }
  };

  const predictSchema = { querystring: S.predictQuery, consumes: S.PREDICT_CONSUMES, response: { 200: PredictionSchema, ...S.ERROR_RESPONSES, ...S.PREDICT_ERRORS } };
  app.post('/api/predict', { schema: { ...predictSchema, summary: 'Classify a photo with the default model' }, config: limit }, async (req) => predictWith(req, req.query, defaultModel));
  app.post('/api/runs/:id/predict', { schema: { ...predictSchema, params: S.runParams, summary: "Classify a photo with a run's model" }, config: limit }, async (req) =>
    predictWith(req, req.query, () => models.get(runDir(req.params.id))),
  );

  // The model files the dashboard loads to classify in the browser (TF.js), written from the very model /predict uses.
  const sendModelFile = async (req: FastifyRequest, reply: FastifyReply, served: ServedModel, file: ModelFileName) => {
    const files = await modelFiles(served);
    reply.header('etag', files.etag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === files.etag) return reply.code(304).send();
    reply.header('content-type', file === 'model.json' ? 'application/json' : 'application/octet-stream');
    return files[file];
  };
  app.get('/api/model/:file', { schema: { summary: 'The default model as TF.js layers-model files', params: S.modelFileParams, response: { 200: MODEL_FILE, ...S.ERROR_RESPONSES } } }, async (req, reply) =>
    sendModelFile(req, reply, await defaultModel(), req.params.file),
  );
  app.get('/api/runs/:id/model/:file', { schema: { summary: "A run's model as TF.js layers-model files", params: S.runModelFileParams, response: { 200: MODEL_FILE, ...S.ERROR_RESPONSES } } }, async (req, reply) =>
    sendModelFile(req, reply, await models.get(runDir(req.params.id)), req.params.file),
  );
};

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
