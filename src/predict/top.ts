/** A model's answer as ranked classes: plain TypeScript, shared by `predict`, the server and the dashboard's in-browser classifier. */
import { CLASS_NAMES } from '../data/types.js';

export interface ClassScore {
  /** Class index 0-9. */
  class: number;
  name: string;
  prob: number;
}

/** The k most probable classes, best first (ties keep class order). */
export function topK(probs: ArrayLike<number>, k: number): ClassScore[] {
  return Array.from(probs, (prob, c) => ({ class: c, name: CLASS_NAMES[c] ?? `class ${c}`, prob }))
    .sort((a, b) => b.prob - a.prob || a.class - b.class)
    .slice(0, Math.max(0, k));
}
