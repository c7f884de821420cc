/** The middle value (the upper middle for an even count): how a benchmark reduces repeated measurements. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
