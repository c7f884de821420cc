/**
 * What the API answers, as schemas (TypeBox): Fastify serialises each route's answer with its
 * schema, /api/openapi.json describes it, and the dashboard's types are derived from the same
 * objects (web/src/api.ts imports these types), so the three cannot disagree. The run records
 * inside the answers are the run store's own schemas (src/runs/records.ts).
 *
 * Light on purpose: only TypeBox and the record schemas, so that the dashboard's build can read it.
 */
import Type, { type Static } from 'typebox';
import { EvalReportSchema, EvalResultSchema, HistoryRowSchema, StoredRunConfigSchema } from '../runs/records.js';

export const ErrorSchema = Type.Object({ error: Type.String() });

/** A file's bytes (a picture, a model's weights): sent as they are, never serialised. */
export const FileSchema = (description: string) => Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description });

/** The article's reported figures for a model (src/models/spec.ts's ArticleFigures). */
const PhaseFigures = Type.Object({ loss: Type.Number(), acc: Type.Number(), seconds: Type.Number() });
export const ArticleFiguresSchema = Type.Object({ params: Type.Integer(), phase1: PhaseFigures, phase2: Type.Optional(PhaseFigures) });

export const RunSummarySchema = Type.Object({
  id: Type.String(),
  model: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.Union([Type.String(), Type.Null()]),
  params: Type.Union([Type.Integer(), Type.Null()]),
  hyper: Type.Union([Type.Object({ epochs: Type.Integer(), augEpochs: Type.Integer(), limit: Type.Union([Type.Integer(), Type.Null()]) }), Type.Null()]),
  lastEval: Type.Union([Type.Pick(EvalResultSchema, ['phase', 'epoch', 'test_acc', 'test_loss']), Type.Null()]),
  article: Type.Union([ArticleFiguresSchema, Type.Null()]),
  /** Being trained now: by this server's worker, or by another process (the run's lock says so). */
  training: Type.Boolean(),
  /** Why the run cannot be read (a damaged record), with no filesystem path. */
  error: Type.Optional(Type.String()),
});
export type RunSummary = Static<typeof RunSummarySchema>;

export const RunListSchema = Type.Object({ runs: Type.Array(RunSummarySchema) });

export const RunDetailSchema = Type.Object({
  id: Type.String(),
  config: StoredRunConfigSchema,
  history: Type.Array(HistoryRowSchema),
  eval: Type.Union([EvalReportSchema, Type.Null()]),
  pictures: Type.Array(Type.String()),
  /** Where the run's model is: its final model, or (a run still training) its last checkpoint's; null for none. */
  model: Type.Union([Type.Object({ fromCheckpoint: Type.Boolean() }), Type.Null()]),
  training: Type.Boolean(),
});
export type RunDetail = Static<typeof RunDetailSchema>;

/** A model of GET /api/models: one this server cannot train says why. */
export const ModelInfoSchema = Type.Object({
  name: Type.String(),
  title: Type.String(),
  kind: Type.String(),
  article: Type.Union([ArticleFiguresSchema, Type.Null()]),
  available: Type.Boolean(),
  reason: Type.Optional(Type.String()),
});
export type ModelInfo = Static<typeof ModelInfoSchema>;
export const ModelListSchema = Type.Object({ models: Type.Array(ModelInfoSchema) });

/** What the server allows (GET /api/server): training may be off, or need the token a page lacks. */
export const ServerAccessSchema = Type.Object({ readOnly: Type.Boolean(), tokenRequired: Type.Boolean(), tokenAccepted: Type.Boolean() });
export type ServerAccess = Static<typeof ServerAccessSchema>;

export const ClassScoreSchema = Type.Object({ class: Type.Integer(), name: Type.String(), prob: Type.Number() });

export const PredictionSchema = Type.Object({
  top: Type.Array(ClassScoreSchema),
  input: Type.String({ description: 'the 28x28 frame the model saw, a PNG data URL' }),
  saliency: Type.Optional(Type.String({ description: 'which pixels drove the top class (gradient magnitude), a PNG data URL; left out with ?saliency=false' })),
  preprocess: Type.Object({
    inverted: Type.Boolean(),
    mirrored: Type.Boolean(),
    objectFound: Type.Boolean(),
    source: Type.Object({ format: Type.String(), width: Type.Integer(), height: Type.Integer() }),
  }),
  model: Type.String(),
});
export type Prediction = Static<typeof PredictionSchema>;

export const ActiveTrainingSchema = Type.Object({
  active: Type.Union([Type.Object({ id: Type.String(), startedAt: Type.String(), epochs: Type.Integer() }), Type.Null()]),
});
export const TrainStartedSchema = Type.Object({ id: Type.String(), events: Type.String() });
export const TrainStoppingSchema = Type.Object({ id: Type.String(), stopping: Type.Boolean() });
