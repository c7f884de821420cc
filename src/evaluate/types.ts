export interface ClassMetrics {
  class: number;
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Test-set evaluation of a model at one point of its training. */
export interface EvalResult {
  phase: 'base' | 'augment' | 'final';
  /** Epoch count (over both phases) when evaluated. */
  epoch: number;
  test_loss: number;
  test_acc: number;
  per_class: ClassMetrics[];
  macro_f1: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  count: number;
}

/** eval.json: one entry per evaluated phase, latest last. */
export interface EvalReport {
  model: string;
  results: EvalResult[];
}
