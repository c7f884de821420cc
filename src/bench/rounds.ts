/**
 * Several rounds of the same measurement, reduced to one: on a shared or throttling host a single
 * round's throughput can move by a fifth, so `bench --rounds N` alternates our backends and PyTorch
 * N times and compares the medians.
 */
import type { Throughput } from './throughput.js';
import type { TorchResult } from './torch.js';
import { median } from './median.js';

export { median };

/**
 * Median throughputs of the rounds. Peak memory is the first round's: later rounds run in a
 * process that the other models' rounds have already grown, so theirs overstate this model's.
 */
export function combineThroughput(rounds: readonly Throughput[]): Throughput {
  return {
    trainImgPerS: median(rounds.map((r) => r.trainImgPerS)),
    inferImgPerS: median(rounds.map((r) => r.inferImgPerS)),
    stepMs: median(rounds.map((r) => r.stepMs)),
    trainFlopsPerImage: rounds[0].trainFlopsPerImage,
    inferFlopsPerImage: rounds[0].inferFlopsPerImage,
    peakRssMb: rounds[0].peakRssMb,
  };
}

export function combineTorch(rounds: readonly TorchResult[]): TorchResult {
  return {
    ...rounds[0],
    train_img_per_s: median(rounds.map((r) => r.train_img_per_s)),
    infer_img_per_s: median(rounds.map((r) => r.infer_img_per_s)),
  };
}
