/** Seeded, class-stratified choice of which images to embed. */
import { Rng } from '../../util/rng.js';
import { UserError } from '../../util/errors.js';

/**
 * How many points each class gets: proportional to its share of the population, with the
 * remainders given by largest fractional part (ties to the lower class), never more than a class has.
 */
export function stratifiedQuotas(classSizes: number[], count: number): number[] {
  const total = classSizes.reduce((a, b) => a + b, 0);
  if (count > total) throw new UserError(`cannot sample ${count} points from ${total}`);
  const exact = classSizes.map((s) => (total === 0 ? 0 : (count * s) / total));
  const quotas = exact.map((e, c) => Math.min(classSizes[c], Math.floor(e)));
  let left = count - quotas.reduce((a, b) => a + b, 0);
  const order = exact.map((e, c) => ({ c, frac: e - Math.floor(e) })).sort((a, b) => b.frac - a.frac || a.c - b.c);
  while (left > 0) {
    for (const { c } of order) {
      if (left === 0) break;
      if (quotas[c] < classSizes[c]) {
        quotas[c]++;
        left--;
      }
    }
  }
  return quotas;
}

/**
 * Positions (into `labels`) of a stratified random sample of `count` points, in ascending order.
 * `numClasses` bounds the label values.
 */
export function stratifiedSample(labels: ArrayLike<number>, count: number, seed: number, numClasses = 10): Uint32Array {
  const n = labels.length;
  if (!Number.isInteger(count) || count <= 0) throw new UserError(`--count must be a positive integer, got ${count}`);
  if (count > n) throw new UserError(`--count ${count} is larger than the split (${n} images)`);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < n; i++) byClass[labels[i]].push(i);
  const quotas = stratifiedQuotas(byClass.map((m) => m.length), count);
  const out: number[] = [];
  byClass.forEach((members, c) => {
    // One stream per class, so a class's choice does not depend on the others' sizes.
    const rng = Rng.derive(seed, `embed-sample/${c}`);
    const m = members.slice();
    // Partial Fisher-Yates: the first quota entries are a uniform random subset.
    for (let i = 0; i < quotas[c]; i++) {
      const j = i + rng.int(m.length - i);
      const t = m[i];
      m[i] = m[j];
      m[j] = t;
      out.push(m[i]);
    }
  });
  return Uint32Array.from(out).sort();
}
