/**
 * How long a sweep has left, from its own finished epochs: each configuration's seconds per epoch
 * (its runs' epochs so far), times the epochs it has left, shared among the runs under way.
 *
 * cli-progress's own ETA assumes every epoch costs the same, but a sweep mixes models whose
 * epochs differ threefold (cnn1 and cnn3) and runs them side by side, so a rate over all epochs
 * would be wrong by that much whenever the mix changes. A configuration none of whose runs has
 * finished an epoch is priced at the mean of the others until it has one.
 */
import type { SweepSummary } from './records.js';

/** Seconds left, or null before any epoch has finished. */
export function sweepSecondsLeft(s: Pick<SweepSummary, 'jobs' | 'counts'>): number | null {
  const perConfig = new Map<string, { seconds: number; epochs: number }>();
  for (const j of s.jobs) {
    if (j.epochs === 0) continue;
    const c = perConfig.get(j.config) ?? { seconds: 0, epochs: 0 };
    c.seconds += j.minutes * 60;
    c.epochs += j.epochs;
    perConfig.set(j.config, c);
  }
  if (perConfig.size === 0) return null;
  const rates = new Map([...perConfig].map(([k, v]) => [k, v.seconds / v.epochs]));
  const fallback = [...rates.values()].reduce((a, b) => a + b, 0) / rates.size;
  let left = 0;
  for (const j of s.jobs) {
    if (j.state === 'done' || j.state === 'failed') continue;
    left += Math.max(0, j.plannedEpochs - j.epochs) * (rates.get(j.config) ?? fallback);
  }
  return left / Math.max(1, s.counts.running);
}
