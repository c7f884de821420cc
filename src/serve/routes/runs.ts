/** The runs: the list, one run's record and pictures, and the test images behind a confusion cell. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { findModelSpec } from '../../models/registry.js';
import { listRuns, locateRunModel, PICTURE_FILES, readEvalReport, readHistory, readRunConfig, requireRunDir, RUN_FILES, runLockHolder } from '../../runs/index.js';
import { clientMessage, HttpError } from '../errors.js';
import { FileSchema, RunDetailSchema, RunListSchema } from '../responses.js';
import { sendRunFile } from '../run-files.js';
import * as S from '../schemas.js';

const PICTURE_NAMES = new Set<string>(PICTURE_FILES.map((f) => RUN_FILES[f]));

export const runRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, training, models, confusion, runDir } = app.services;
  /** Trained now: by this server's worker, or by another process holding the run's lock (the CLI). */
  const isTraining = async (id: string, dir: string) => training.active()?.id === id || (await runLockHolder(dir)) !== null;

  app.get('/api/runs', { schema: { summary: 'Every run under the runs folder, with its latest evaluation', response: { 200: RunListSchema } } }, async () => {
    const runs = await listRuns(config.runsDir);
    return {
      runs: runs.map((r) => ({
        id: r.id,
        model: r.config?.model ?? null,
        createdAt: r.config?.createdAt ?? null,
        params: r.config?.params?.total ?? null,
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

  app.get('/api/runs/:id', { schema: { summary: 'A run: config, history, evaluation, pictures', params: S.runParams, response: { 200: RunDetailSchema, ...S.ERROR_RESPONSES } } }, async (req) => {
    const dir = runDir(req.params.id);
    // In this order, so that a damaged config.json is what a damaged run reports.
    const config = await readRunConfig(dir);
    const history = await readHistory(dir);
    const evalReport = await readEvalReport(dir);
    const pictures: string[] = [];
    for (const name of PICTURE_NAMES) if (await fs.stat(path.join(dir, name)).catch(() => null)) pictures.push(name);
    const model = await locateRunModel(dir).then((m) => ({ fromCheckpoint: m.fromCheckpoint }), () => null);
    return { id: req.params.id, config, history, eval: evalReport, pictures, model, training: await isTraining(req.params.id, dir) };
  });

  app.get('/api/runs/:id/pictures/:name', { schema: { summary: "One of a run's pictures", params: S.pictureParams, response: { 200: FileSchema('the picture, PNG or SVG'), ...S.ERROR_RESPONSES } } }, async (req, reply) => {
    const dir = runDir(req.params.id);
    await requireRunDir(dir);
    if (!PICTURE_NAMES.has(req.params.name)) throw new HttpError(404, `no picture "${req.params.name}" (one of ${[...PICTURE_NAMES].join(', ')})`);
    return sendRunFile(reply, dir, path.join(dir, req.params.name), `${req.params.id}/${req.params.name}`);
  });

  app.get(
    '/api/runs/:id/confusion/:t/:p.png',
    { schema: { summary: 'The test images of true class t that the run classifies as p (a grid PNG; header x-image-count)', params: S.confusionParams, response: { 200: FileSchema('a grid of test images, PNG'), ...S.ERROR_RESPONSES } } },
    async (req, reply) => {
      const { png, count } = await confusion.png(await models.get(runDir(req.params.id)), req.params.t, req.params.p);
      reply.header('content-type', 'image/png').header('x-image-count', String(count));
      return png;
    },
  );
};
