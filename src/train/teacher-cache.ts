/**
 * A teacher's probabilities for the un-augmented training images ('clean' distillation targets),
 * computed once and kept in the feature cache (features/cache.ts), verified before reuse. The key
 * holds the teacher's digest (every member's model files), its test-time augmentation and the
 * images' pixels: a changed teacher or another split makes another key, never a stale answer.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Examples } from '../data/types.js';
import { NUM_CLASSES } from '../data/types.js';
import { predictProbsWithProgress } from '../evaluate/predict.js';
import { cachedOrComputed, digestPixels, featureCacheDir } from '../features/index.js';
import type { TestTimeAugmentation } from '../models/tta.js';
import { UserError } from '../util/errors.js';

export async function cleanTeacherProbs(
  teacher: { model: tfl.LayersModel; tta: TestTimeAugmentation; digest: string },
  images: Examples,
  log: (line: string) => void,
  dir: string = featureCacheDir(),
): Promise<Float32Array> {
  const { x } = await cachedOrComputed(
    dir,
    { extractor: { kind: 'teacher probabilities', teacher: teacher.digest, tta: teacher.tta }, images: digestPixels(images.x) },
    images.count,
    [1, 1, NUM_CLASSES],
    async (digest) => {
      const probs = await predictProbsWithProgress(teacher.model, images, { tta: teacher.tta, label: 'teacher: probabilities of the training images' });
      digest.update(probs);
      return probs;
    },
    { label: 'teacher: probabilities of the training images', log, nonFinite: (n) => new UserError(`the teacher gives NaN or infinite probabilities (${n} values); nothing was cached`) },
  );
  return x;
}
