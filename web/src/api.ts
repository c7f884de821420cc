/** The server's API, as the dashboard calls it. */
import { authorization } from './token.js';

// The answers' shapes are the server's own schemas (src/serve/responses.ts, src/runs/records.ts): one definition.
export type { HistoryRow, EvalResult, ClassMetrics } from '../../src/runs/records.js';
export type { RunSummary, RunDetail, ModelInfo, ServerAccess, Prediction } from '../../src/serve/responses.js';
export type { SweepListing, SweepSummary } from '../../src/sweep/records.js';
import type { SweepListing, SweepSummary } from '../../src/sweep/records.js';
import type { ModelInfo, Prediction, RunDetail, RunSummary, ServerAccess } from '../../src/serve/responses.js';
export interface Projection { method: string; dims: number; count: number; labels: number[]; indices: number[]; coords: number[][]; axes: string[]; classNames: string[]; quality: { original: number; projection: number }; source: { kind: string; dim: number } }

/** Whether a run holds out a validation split: its config says so; older records lack the field and always did. */
export function hasValidation(run: Pick<RunDetail, 'config'>): boolean {
  return run.config.hyper.valSplit !== 0;
}

export class ApiError extends Error {}

async function check<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => ({ error: res.statusText }))) as T & { error?: string };
  if (!res.ok) throw new ApiError(body.error ?? `HTTP ${res.status}`);
  return body;
}

/** URLs are relative so that the dashboard works under any prefix. */
export const api = {
  runs: () => fetch('api/runs').then((r) => check<{ runs: RunSummary[] }>(r)),
  run: (id: string) => fetch(`api/runs/${encodeURIComponent(id)}`).then((r) => check<RunDetail>(r)),
  active: () => fetch('api/train').then((r) => check<{ active: { id: string } | null }>(r)),
  access: () => fetch('api/server', { headers: authorization() }).then((r) => check<ServerAccess>(r)),
  models: () => fetch('api/models').then((r) => check<{ models: ModelInfo[] }>(r)),
  picture: (id: string, name: string) => `api/runs/${encodeURIComponent(id)}/pictures/${name}`,
  projectionQuery: (q: Record<string, string>) => new URLSearchParams(Object.entries(q).filter(([, v]) => v !== '')).toString(),
  projection: (id: string, query: string) => fetch(`api/runs/${encodeURIComponent(id)}/projection?${query}`).then((r) => check<Projection>(r)),
  projectionFile: (id: string, file: string, query: string) => `api/runs/${encodeURIComponent(id)}/projection/files/${file}?${query}`,
  predict: (file: Blob, runId?: string) => {
    const form = new FormData();
    form.append('file', file, 'upload');
    return fetch(runId ? `api/runs/${encodeURIComponent(runId)}/predict` : 'api/predict', { method: 'POST', body: form }).then((r) => check<Prediction>(r));
  },
  train: (body: Record<string, unknown>) => fetch('api/train', { method: 'POST', headers: { 'content-type': 'application/json', ...authorization() }, body: JSON.stringify(body) }).then((r) => check<{ id: string }>(r)),
  stop: (id: string) => fetch(`api/runs/${encodeURIComponent(id)}/stop`, { method: 'POST', headers: authorization() }).then((r) => check<unknown>(r)),
  events: (id: string) => new EventSource(`api/runs/${encodeURIComponent(id)}/events`),
  sweeps: () => fetch('api/sweeps').then((r) => check<{ sweeps: SweepListing[] }>(r)),
  sweep: (id: string) => fetch(`api/sweeps/${encodeURIComponent(id)}`).then((r) => check<SweepSummary>(r)),
  sweepEvents: (id: string) => new EventSource(`api/sweeps/${encodeURIComponent(id)}/events`),
};
