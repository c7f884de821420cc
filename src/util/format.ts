/**
 * Metrics as text. A record's metric may be null (JSON's form of NaN: a diverged loss, or no
 * validation split), and an in-memory one NaN: both read "n/a".
 */
const known = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** A loss or accuracy with `digits` decimals. */
export function metric(x: number | null | undefined, digits = 4): string {
  return known(x) ? x.toFixed(digits) : 'n/a';
}

/** A fraction as a percentage with two decimals (0.9208 -> "92.08%"). */
export function percent(x: number | null | undefined): string {
  return known(x) ? `${(x * 100).toFixed(2)}%` : 'n/a';
}
