/**
 * The schemas of the API's requests (TypeBox). Fastify validates every request against them, the
 * type provider derives each route's parameter, query and body types from them, and
 * @fastify/swagger turns the same objects into /api/openapi.json, so the description cannot drift
 * from what is enforced. The answers' schemas are in responses.ts.
 */
import Type, { type Static } from 'typebox';
import { EMBED_METHODS } from '../explain/embed/types.js';
import { MAX_EMBED_COUNT, DEFAULT_EMBED_COUNT } from '../explain/embed/run.js';
import { MIN_EMBED_POINTS } from '../explain/embed/compute.js';
import { NUM_CLASSES } from '../data/types.js';
import { MODEL_FILE_NAMES } from './model-files.js';
import { ARTICLE_PROTOCOL } from '../train/protocol.js';
import { ErrorSchema } from './responses.js';

/** Run ids are folder names (isValidRunId also refuses '.' and '..'). */
export const RUN_ID_PATTERN = '^[A-Za-z0-9._-]+$';

/** The longest run id, everywhere: what POST /api/train accepts is what every route serves. */
export const MAX_RUN_ID_LENGTH = 100;

/**
 * The longest path parameter the router takes: a file name's limit (NAME_MAX), so that any folder
 * of the runs folder reaches its route's schema, which says what is wrong with it.
 */
export const MAX_PARAM_LENGTH = 255;

const runId = Type.String({ pattern: RUN_ID_PATTERN, maxLength: MAX_RUN_ID_LENGTH, description: "a run's folder name under the runs folder" });

export const ERROR_RESPONSES = {
  400: Type.Object(ErrorSchema.properties, { description: 'bad request' }),
  404: Type.Object(ErrorSchema.properties, { description: 'no such run or file' }),
};

/** A route that changes something: same-origin requests with `Authorization: Bearer TOKEN` (access.ts). */
export const NEEDS_TOKEN = [{ token: [] }];

export const runParams = Type.Object({ id: runId });

export const pictureParams = Type.Object({
  id: runId,
  name: Type.String({ pattern: '^[a-z]+\\.(png|svg)$', description: 'curves.svg|png, confusion.svg|png, correct.png, incorrect.png, activations.png' }),
});

const classIndex = (description: string) => Type.Integer({ minimum: 0, maximum: NUM_CLASSES - 1, description });
export const confusionParams = Type.Object({ id: runId, t: classIndex('true class'), p: classIndex('predicted class') });

export const projectionQuery = Type.Object(
  {
    method: Type.Enum([...EMBED_METHODS], { default: 'pca' }),
    dims: Type.Union([Type.Literal(2), Type.Literal(3)], { default: 2 }),
    source: Type.Enum(['pixels', 'features'], { default: 'features', description: "raw pixels, or the run's learned features (last hidden layer)" }),
    count: Type.Integer({ minimum: MIN_EMBED_POINTS, maximum: MAX_EMBED_COUNT, default: DEFAULT_EMBED_COUNT }),
    left: Type.Optional(Type.String({ maxLength: 200, description: 'custom: x axis from the classes matching this regular expression' })),
    right: Type.Optional(Type.String({ maxLength: 200 })),
    up: Type.Optional(Type.String({ maxLength: 200 })),
    down: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type ProjectionQuery = Static<typeof projectionQuery>;

export const projectionFileParams = Type.Object({ id: runId, file: Type.String({ pattern: '^[a-z_]+\\.(json|png|svg|tsv|pbtxt)$' }) });

const modelFile = Type.Enum([...MODEL_FILE_NAMES], { description: "model.json (TF.js layers model: topology, weights manifest, the run's test-time augmentation) or weights.bin" });

export const modelFileParams = Type.Object({ file: modelFile });

export const runModelFileParams = Type.Object({ id: runId, file: modelFile });

/** How many classes predict answers with when the request does not say. */
export const DEFAULT_TOP = 3;

export const predictQuery = Type.Object(
  {
    top: Type.Integer({ minimum: 1, maximum: NUM_CLASSES, default: DEFAULT_TOP }),
    saliency: Type.Boolean({ default: true, description: "false: no saliency map (no backward pass: about half the model's cost per photo)" }),
  },
  { additionalProperties: false },
);

/** An upload: multipart/form-data with one file, or the image bytes as the body (image/*, application/octet-stream). */
export const PREDICT_CONSUMES = ['multipart/form-data', 'image/jpeg', 'image/png', 'image/webp', 'image/gif', 'application/octet-stream'];

export const PREDICT_ERRORS = {
  413: Type.Object(ErrorSchema.properties, { description: 'upload larger than the limit' }),
  415: Type.Object(ErrorSchema.properties, { description: 'not an image' }),
  422: Type.Object(ErrorSchema.properties, { description: 'an image without a garment standing out from its background' }),
};

const protocolDefault = (k: 'epochs' | 'augEpochs' | 'batchSize' | 'lr' | 'seed') => `default: the model's recipe, else the article's ${ARTICLE_PROTOCOL.hyper[k]}`;

export const trainBody = Type.Object(
  {
    model: Type.String({ maxLength: 50 }),
    id: Type.Optional(runId),
    // No `default`s: a field left out takes the model's protocol (src/train/protocol.ts), recipe included.
    epochs: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: protocolDefault('epochs') })),
    augEpochs: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: protocolDefault('augEpochs') })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536, description: protocolDefault('batchSize') })),
    lr: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10, description: protocolDefault('lr') })),
    seed: Type.Optional(Type.Integer({ minimum: 0, description: protocolDefault('seed') })),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'train on the first N training images (quick runs)' })),
    pictures: Type.Optional(Type.Boolean({ default: true, description: "draw the run's pictures at the end" })),
  },
  { additionalProperties: false },
);
/** POST /api/train's body. */
export type TrainRequest = Static<typeof trainBody>;
