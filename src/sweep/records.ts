/**
 * The shapes of a sweep's summary (TypeBox), written once: the summary module fills them, sweep.json
 * holds them, the API answers with them and the dashboard's types are derived from them.
 * Light on purpose (TypeBox only), so that the dashboard's build can read it.
 */
import Type, { type Static } from 'typebox';

const GridValue = Type.Union([Type.String(), Type.Number()]);
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const JobStateSchema = Type.Enum(['pending', 'running', 'done', 'failed']);
export type JobState = Static<typeof JobStateSchema>;

/** One job as the summary shows it. */
export const JobStatusSchema = Type.Object({
  id: Type.String(),
  config: Type.String(),
  model: Type.String(),
  seed: Type.Integer(),
  settings: Type.Record(Type.String(), GridValue),
  state: JobStateSchema,
  epochs: Type.Integer(),
  plannedEpochs: Type.Integer(),
  valAcc: Nullable(Type.Number()),
  testAcc: Nullable(Type.Number()),
  minutes: Type.Number(),
  error: Type.Optional(Type.String()),
});
export type JobStatus = Static<typeof JobStatusSchema>;

export const MeanStdSchema = Type.Object({
  mean: Type.Number(),
  /** Sample standard deviation (n - 1); 0 for a single value. */
  std: Type.Number(),
  n: Type.Integer(),
});
export type MeanStd = Static<typeof MeanStdSchema>;

export const ConfigSummarySchema = Type.Object({
  config: Type.String(),
  model: Type.String(),
  settings: Type.Record(Type.String(), GridValue),
  /** The model's first configuration, which the others are compared with. */
  baseline: Type.String(),
  done: Type.Integer(),
  total: Type.Integer(),
  testAcc: Nullable(MeanStdSchema),
  valAcc: Nullable(MeanStdSchema),
  minutes: Nullable(MeanStdSchema),
});
export type ConfigSummary = Static<typeof ConfigSummarySchema>;

export const SweepDefinitionSchema = Type.Object({
  models: Type.Array(Type.String()),
  seeds: Type.Array(Type.Integer()),
  /** Train flags swept over, in the order given: [flag, values]. */
  grid: Type.Array(Type.Tuple([Type.String(), Type.Array(GridValue)])),
  /** The train flags given to every job (the sweep's fixed settings). */
  flags: Type.Array(Type.String()),
});

export const SweepSummarySchema = Type.Object({
  name: Type.String(),
  dir: Type.String(),
  createdAt: Type.String(),
  definition: SweepDefinitionSchema,
  jobs: Type.Array(JobStatusSchema),
  configs: Type.Array(ConfigSummarySchema),
  counts: Type.Object({ pending: Type.Integer(), running: Type.Integer(), done: Type.Integer(), failed: Type.Integer() }),
});
export type SweepSummary = Static<typeof SweepSummarySchema>;

/** A sweep as a list shows it. */
export const SweepListingSchema = Type.Object({ id: Type.String(), createdAt: Type.String(), runs: Type.Integer(), counts: SweepSummarySchema.properties.counts, models: Type.Array(Type.String()) });
export type SweepListing = Static<typeof SweepListingSchema>;
