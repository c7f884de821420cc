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

/** "45 s", "5 min 02 s", "1 h 07 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
