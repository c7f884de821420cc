/**
 * The JSON schemas of the API's requests. Fastify validates every request against them, and
 * @fastify/swagger turns the same objects into /api/openapi.json, so the description cannot drift
 * from what is enforced.
 */
import { EMBED_METHODS } from '../explain/embed/types.js';
import { MAX_EMBED_COUNT, DEFAULT_EMBED_COUNT } from '../explain/embed/run.js';
import { MIN_EMBED_POINTS } from '../explain/embed/compute.js';
import { NUM_CLASSES } from '../data/types.js';
import { MODEL_FILE_NAMES } from './model-files.js';
import { ARTICLE_PROTOCOL } from '../train/protocol.js';

/** Run ids are folder names (isValidRunId also refuses '.' and '..'). */
export const RUN_ID_PATTERN = '^[A-Za-z0-9._-]+$';

/** The longest run id, everywhere: what POST /api/train accepts is what every route serves. */
export const MAX_RUN_ID_LENGTH = 100;

/**
 * The longest path parameter the router takes: a file name's limit (NAME_MAX), so that any folder
 * of the runs folder reaches its route's schema, which says what is wrong with it.
 */
export const MAX_PARAM_LENGTH = 255;

const runId = { type: 'string', pattern: RUN_ID_PATTERN, maxLength: MAX_RUN_ID_LENGTH, description: "a run's folder name under the runs folder" } as const;
const error = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } as const;

export const ERROR_RESPONSES = {
  400: { description: 'bad request', ...error },
  404: { description: 'no such run or file', ...error },
} as const;

/** A route that changes something: same-origin requests with `Authorization: Bearer TOKEN` (access.ts). */
export const NEEDS_TOKEN = [{ token: [] }];

export const runParams = { type: 'object', properties: { id: runId }, required: ['id'] } as const;

export const pictureParams = {
  type: 'object',
  properties: { id: runId, name: { type: 'string', pattern: '^[a-z]+\\.(png|svg)$', description: 'curves.svg|png, confusion.svg|png, correct.png, incorrect.png, activations.png' } },
  required: ['id', 'name'],
} as const;

export const confusionParams = {
  type: 'object',
  properties: { id: runId, t: { type: 'integer', minimum: 0, maximum: NUM_CLASSES - 1, description: 'true class' }, p: { type: 'integer', minimum: 0, maximum: NUM_CLASSES - 1, description: 'predicted class' } },
  required: ['id', 't', 'p'],
} as const;

export const projectionQuery = {
  type: 'object',
  properties: {
    method: { type: 'string', enum: [...EMBED_METHODS], default: 'pca' },
    dims: { type: 'integer', enum: [2, 3], default: 2 },
    source: { type: 'string', enum: ['pixels', 'features'], default: 'features', description: "raw pixels, or the run's learned features (last hidden layer)" },
    count: { type: 'integer', minimum: MIN_EMBED_POINTS, maximum: MAX_EMBED_COUNT, default: DEFAULT_EMBED_COUNT },
    left: { type: 'string', maxLength: 200, description: 'custom: x axis from the classes matching this regular expression' },
    right: { type: 'string', maxLength: 200 },
    up: { type: 'string', maxLength: 200 },
    down: { type: 'string', maxLength: 200 },
  },
  additionalProperties: false,
} as const;

export const projectionFileParams = {
  type: 'object',
  properties: { id: runId, file: { type: 'string', pattern: '^[a-z_]+\\.(json|png|svg|tsv|pbtxt)$' } },
  required: ['id', 'file'],
} as const;

const modelFile = { type: 'string', enum: [...MODEL_FILE_NAMES], description: 'model.json (TF.js layers model: topology, weights manifest, the run\'s test-time augmentation) or weights.bin' } as const;

export const modelFileParams = { type: 'object', properties: { file: modelFile }, required: ['file'] } as const;

export const runModelFileParams = { type: 'object', properties: { id: runId, file: modelFile }, required: ['id', 'file'] } as const;

export const predictQuery = {
  type: 'object',
  properties: {
    top: { type: 'integer', minimum: 1, maximum: NUM_CLASSES, default: 3 },
    saliency: { type: 'boolean', default: true, description: 'false: no saliency map (no backward pass: about half the model\'s cost per photo)' },
  },
  additionalProperties: false,
} as const;

/** An upload: multipart/form-data with one file, or the image bytes as the body (image/*, application/octet-stream). */
export const PREDICT_CONSUMES = ['multipart/form-data', 'image/jpeg', 'image/png', 'image/webp', 'image/gif', 'application/octet-stream'];

export const predictResponse = {
  200: {
    type: 'object',
    properties: {
      top: { type: 'array', items: { type: 'object', properties: { class: { type: 'integer' }, name: { type: 'string' }, prob: { type: 'number' } } } },
      input: { type: 'string', description: 'the 28x28 frame the model saw, a PNG data URL' },
      saliency: { type: 'string', description: 'which pixels drove the top class (gradient magnitude), a PNG data URL; left out with ?saliency=false' },
      preprocess: { type: 'object', additionalProperties: true },
      model: { type: 'string' },
    },
  },
  413: { description: 'upload larger than the limit', ...error },
  415: { description: 'not an image', ...error },
  422: { description: 'an image without a garment standing out from its background', ...error },
} as const;

const protocolDefault = (k: 'epochs' | 'augEpochs' | 'batchSize' | 'lr' | 'seed') => `default: the model's recipe, else the article's ${ARTICLE_PROTOCOL.hyper[k]}`;

export const trainBody = {
  type: 'object',
  properties: {
    model: { type: 'string', maxLength: 50 },
    id: runId,
    // No `default`s: a field left out takes the model's protocol (src/train/protocol.ts), recipe included.
    epochs: { type: 'integer', minimum: 0, maximum: 1000, description: protocolDefault('epochs') },
    augEpochs: { type: 'integer', minimum: 0, maximum: 1000, description: protocolDefault('augEpochs') },
    batchSize: { type: 'integer', minimum: 1, maximum: 65536, description: protocolDefault('batchSize') },
    lr: { type: 'number', exclusiveMinimum: 0, maximum: 10, description: protocolDefault('lr') },
    seed: { type: 'integer', minimum: 0, description: protocolDefault('seed') },
    limit: { type: 'integer', minimum: 1, description: 'train on the first N training images (quick runs)' },
    pictures: { type: 'boolean', default: true, description: "draw the run's pictures at the end" },
  },
  required: ['model'],
  additionalProperties: false,
} as const;
