/** A few DOM helpers: the dashboard is small enough not to need a framework. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** A fraction as a percentage; a metric a record holds as null (NaN) reads n/a. */
export const pct = (v: number | null, digits = 2) => (v === null || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(digits)}%`);

export function errorBox(e: unknown): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e));
}

/** Ten distinguishable class colours (Tableau 10), shared by the projector and the legends. */
export const CLASS_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
