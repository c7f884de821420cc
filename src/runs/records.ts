/**
 * The shape of each record a run keeps (config.json, a history.jsonl row, eval.json), written
 * once, as JSON Schema (TypeBox). The TypeScript types are derived from these schemas; the run
 * store validates what it reads against them (src/runs/validate.ts); the API's response schemas
 * and the dashboard's types are the same objects. A field's `description` says what its value must
 * be: a damaged record's message reads `"hyper.epochs" is not a whole number >= 0`.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { TTA_CHOICES } from '../models/spec.js';

const what = (description: string) => ({ description });

const WholeNumber = Type.Integer({ minimum: 0, ...what('a whole number >= 0') });
const PositiveWhole = Type.Integer({ minimum: 1, ...what('a whole number >= 1') });
const Fraction = Type.Number({ minimum: 0, exclusiveMaximum: 1, ...what('a number from 0 to below 1') });
const Text = Type.String(what('a string'));
const nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([Type.Null(), schema], what(description));
/** A metric: a number, or null (JSON's form of NaN: a diverged loss, or no validation split). */
const Metric = Type.Union([Type.Number(), Type.Null()], what('a number'));
/** `"a", "b" or "c"`: how a record's error names the values an enum allows. */
const quotedList = (values: readonly string[]) => {
  const q = values.map((v) => `"${v}"`);
  return q.length > 1 ? `${q.slice(0, -1).join(', ')} or ${q.at(-1)}` : q.join('');
};
const oneOf = <const V extends string[]>(values: readonly [...V], description = quotedList(values)) => Type.Enum(values, what(description));

export const PhaseSchema = oneOf(['base', 'augment']);
export type Phase = Static<typeof PhaseSchema>;

export const HistoryRowSchema = Type.Object({
  phase: PhaseSchema,
  /** 1-based, counted over both phases (phase 2 continues the numbering). */
  epoch: PositiveWhole,
  loss: Metric,
  acc: Metric,
  /** null when the run has no validation split (--val-split 0). */
  val_loss: Metric,
  val_acc: Metric,
  seconds: Type.Number(what('a number')),
  lr: Type.Number(what('a number')),
});
export type HistoryRow = Static<typeof HistoryRowSchema>;

/** The learning-rate schedule, by kind. */
export const LrScheduleSchema = Type.Union(
  [
    Type.Object({ kind: Type.Literal('constant') }),
    Type.Object({ kind: Type.Literal('step'), every: PositiveWhole, factor: Type.Number() }),
    Type.Object({ kind: Type.Literal('cosine'), minLr: Type.Number() }),
    Type.Object({ kind: Type.Literal('plateau'), patience: PositiveWhole, factor: Type.Number() }),
    /**
     * One cycle (Smith & Topin 2017), set every step: the rate rises linearly from 0 to `lr` over the
     * first `warmup` share of all steps, then falls linearly to 0 at the last step.
     */
    Type.Object({ kind: Type.Literal('onecycle'), warmup: Type.Number() }),
  ],
  what('a learning-rate schedule (constant, step, cosine, plateau or onecycle)'),
);
export type LrScheduleSpec = Static<typeof LrScheduleSchema>;

/**
 * The optimizer, by kind. `epsilon: null` is TF.js's default (the backend's epsilon, 1e-7), which
 * is what the article's Keras Adam used. `weightDecay`: every kernel is multiplied by
 * 1 - lr * weightDecay before each step (decoupled, as in AdamW).
 */
export const OptimizerSchema = Type.Union(
  [
    Type.Object({ kind: Type.Literal('adam'), beta1: Type.Number(), beta2: Type.Number(), epsilon: Type.Union([Type.Number(), Type.Null()]) }),
    Type.Object({ kind: Type.Literal('adamw'), beta1: Type.Number(), beta2: Type.Number(), epsilon: Type.Union([Type.Number(), Type.Null()]), weightDecay: Type.Number() }),
    Type.Object({ kind: Type.Literal('sgd'), momentum: Type.Number(), nesterov: Type.Boolean(), weightDecay: Type.Number() }),
  ],
  what('an optimizer (adam, adamw or sgd)'),
);
export type OptimizerSpec = Static<typeof OptimizerSchema>;

/** A weight-average decay: strictly between 0 and 1; 0 would be no average, 1 one that never moves. */
export const WeightAverageDecaySchema = Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 });

export const TestTimeAugmentationSchema = oneOf(TTA_CHOICES);

/** Where a distilled student's soft targets come from (DistillSchema's `targets`). */
export const TEACHER_TARGETS = ['batch', 'clean'] as const;

/**
 * Knowledge distillation (Hinton et al. 2015): the student learns from the labels and from a
 * teacher's probabilities softened by a temperature (src/train/distill.ts).
 */
export const DistillSchema = Type.Object({
  /** The teacher: run directories (an ensemble when several); in config.json relative to the run's directory (src/runs/record-paths.ts). */
  teacher: Type.Array(Type.String(), { minItems: 1 }),
  /** Softening temperature T of both the teacher's and the student's probabilities. */
  temperature: Type.Number({ exclusiveMinimum: 0, ...what('a positive number') }),
  /** Share of the soft (teacher) term in the loss; the labels' term has 1 - weight. */
  weight: Type.Number({ minimum: 0, maximum: 1, ...what('a number from 0 to 1') }),
  /**
   * 'batch': the teacher answers every batch as the student sees it (augmented included);
   * 'clean': its answers for the un-augmented images, computed once (and cached), stand for
   * every augmented copy of them.
   */
  targets: oneOf(TEACHER_TARGETS),
  /**
   * The teacher's test-time augmentation; absent: its runs' own. 'none' halves the cost of a
   * teacher whose runs flip.
   */
  tta: Type.Optional(TestTimeAugmentationSchema),
});
export type DistillSettings = Static<typeof DistillSchema>;

export const TrainHyperParamsSchema = Type.Object({
  epochs: WholeNumber,
  augEpochs: WholeNumber,
  batchSize: PositiveWhole,
  lr: Type.Number({ exclusiveMinimum: 0, ...what('a positive number') }),
  seed: WholeNumber,
  valSplit: Fraction,
  limit: nullable(PositiveWhole, 'null or a whole number >= 1'),
  earlyStop: nullable(PositiveWhole, 'null or a whole number >= 1'),
  lrSchedule: LrScheduleSchema,
  optimizer: OptimizerSchema,
  /** Keras's label_smoothing of categorical cross-entropy: targets become y(1-s) + s/classes. */
  labelSmoothing: Fraction,
  /** Test-time augmentation of validation and test predictions ('flip': averaged with the mirror image). */
  tta: TestTimeAugmentationSchema,
  /**
   * Exponential moving average of the weights (src/train/weight-average.ts): the decay per step
   * (e.g. 0.999), or null for none. Validation, test and the saved model use the average.
   */
  ema: nullable(WeightAverageDecaySchema, 'null or a number between 0 and 1'),
  /** Learn from a teacher besides the labels, or null for the labels alone. */
  distill: nullable(DistillSchema, 'null or {teacher, temperature, weight}'),
});
export type TrainHyperParams = Static<typeof TrainHyperParamsSchema>;

export const AugmentConfigSchema = Type.Object({
  /** Maximum rotation, degrees (Keras rotation_range). */
  rotationDeg: Type.Number(what('a number')),
  /** Maximum shift as a fraction of width / height (Keras width/height_shift_range). */
  widthShift: Type.Number(what('a number')),
  heightShift: Type.Number(what('a number')),
  /** Maximum shear angle (Keras shear_range), in `shearUnit`. */
  shear: Type.Number(what('a number')),
  /** Keras >= 2.2 reads shear_range in degrees; Keras 2.1 (the article's era) in radians. */
  shearUnit: oneOf(['degrees', 'radians']),
  /** Zoom factors are drawn from [1 - zoom, 1 + zoom], independently per axis. */
  zoom: Type.Number(what('a number')),
  /**
   * How a warped pixel is sampled. Keras up to keras-preprocessing 1.0.5 (the article's era) called
   * scipy's affine_transform with order=0, i.e. nearest neighbour: augmented images stay as sharp as
   * the test images. Later Keras samples bilinearly (order=1), which blurs every augmented image.
   */
  interpolation: oneOf(['nearest', 'bilinear']),
  /**
   * Random crop: the image is padded with this many black pixels on every side and a crop of the
   * original size is taken at a random place (0: off). Applied after the affine warp.
   */
  cropPad: WholeNumber,
  /** Mirror each image left-right with probability 1/2. */
  flip: Type.Boolean(what('true or false')),
  /**
   * Random erasing (Zhong et al. 2017): with this probability a rectangle of 2-25% of the image,
   * aspect ratio 0.3-3.3, is filled with uniform noise (0: off). Applied last.
   */
  erase: Fraction,
  /**
   * Photo-like augmentation (src/train/photo-augment.ts): with this probability an image gets a
   * small perspective, exposure and contrast, blur or sharpening, and background clutter (0: off).
   * Applied after the affine warp, before the crop and flip.
   */
  photo: Fraction,
});
export type AugmentConfig = Static<typeof AugmentConfigSchema>;

/** A model's options as a run records them (src/models/spec.ts's ModelOptions). */
export const ModelOptionsSchema = Type.Object({
  inputSize: Type.Optional(PositiveWhole),
  weights: Type.Optional(Text),
  backbone: Type.Optional(Text),
  backboneLayer: Type.Optional(Text),
  fineTune: Type.Optional(Text),
});

const DataFileSchema = Type.Object({ path: Type.String(), md5: Type.String(), verified: Type.Boolean(), expectedMd5: Type.Optional(Type.String()) });

/** Where the run's data came from, and how much of it each split holds. */
export const RunDataSchema = Type.Object({
  kind: oneOf(['flag', 'env', 'local', 'system', 'download'], 'how the data was found'),
  dir: Type.String(),
  files: Type.Object({ trainImages: DataFileSchema, trainLabels: DataFileSchema, testImages: DataFileSchema, testLabels: DataFileSchema }),
  trainCount: WholeNumber,
  valCount: WholeNumber,
  testCount: WholeNumber,
});

export const ParamCountsSchema = Type.Object({ total: WholeNumber, trainable: WholeNumber, nonTrainable: WholeNumber });
export type ParamCounts = Static<typeof ParamCountsSchema>;

/** The version of the run-directory format this code writes (config.json's `format`). */
export const RUN_FORMAT = 2;

/** config.json */
export const TeacherRecordSchema = Type.Object({
  /** SHA-256 over every member's model files, in order. */
  digest: Type.String(),
  members: Type.Array(Type.Object({ runDir: Type.String(), model: Type.String() })),
});
export type TeacherRecord = Static<typeof TeacherRecordSchema>;

export const RunConfigSchema = Type.Object({
  /** RUN_FORMAT when written; records from before the field existed are format 1. */
  format: Type.Integer({ minimum: 1, ...what('a version number') }),
  id: Type.String(),
  model: Type.String(what('a name')),
  /** The model's options (a transfer model's input size, weights, backbone); {} for records from before they existed. */
  modelOptions: ModelOptionsSchema,
  createdAt: Type.String(),
  hyper: TrainHyperParamsSchema,
  augmentation: AugmentConfigSchema,
  data: RunDataSchema,
  backend: Type.String(),
  params: ParamCountsSchema,
  versions: Type.Record(Type.String(), Type.String()),
  /** A distilled run's teacher as it was when the run started: a changed teacher is not resumed with. */
  teacher: Type.Optional(TeacherRecordSchema),
});
export type RunConfig = Static<typeof RunConfigSchema>;

/**
 * config.json as a reader accepts it: the provenance fields may be missing (records written by
 * hand, or by tests), the protocol must be whole once older records are brought to today's form.
 */
export const StoredRunConfigSchema = Type.Evaluate(
  Type.Intersect([Type.Pick(RunConfigSchema, ['model', 'hyper', 'augmentation']), Type.Partial(Type.Omit(RunConfigSchema, ['model', 'hyper', 'augmentation']))]),
);

export const ClassMetricsSchema = Type.Object({
  class: WholeNumber,
  name: Type.String(),
  precision: Type.Number(),
  recall: Type.Number(),
  f1: Type.Number(),
  support: WholeNumber,
});
export type ClassMetrics = Static<typeof ClassMetricsSchema>;

/** Test-set evaluation of a model at one point of its training. */
export const EvalResultSchema = Type.Object({
  phase: oneOf(['base', 'augment', 'final']),
  /** Epoch count (over both phases) when evaluated. */
  epoch: WholeNumber,
  test_loss: Metric,
  test_acc: Metric,
  per_class: Type.Array(ClassMetricsSchema),
  macro_f1: Type.Number(),
  /** confusion[true][predicted] */
  confusion: Type.Array(Type.Array(Type.Number())),
  count: WholeNumber,
});
export type EvalResult = Static<typeof EvalResultSchema>;

/** eval.json: one entry per evaluated phase, in phase order. */
export const EvalReportSchema = Type.Object({
  model: Type.String(what('a name')),
  results: Type.Array(EvalResultSchema),
});
export type EvalReport = Static<typeof EvalReportSchema>;
