/**
 * Runs the server's cases (test/reliability/http-cases.ts): each against its own server, built in
 * this process on the shared fixtures and driven by Fastify's inject() (no socket), one case at a
 * time (some start worker processes). Used by test/unit/reliability-http.test.ts (which asserts) and by
 * scripts/reliability-doc.ts (which writes the Server section of docs/RELIABILITY.md).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { buildServer, type ServeApp, type ServeOverride } from '../../src/serve/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { copyDir } from './fixtures.js';
import { sharedFixtures, type CaseContext } from './harness.js';

/** The token of every case's server (shown as $TOKEN). */
export const CASE_TOKEN = 'reliability-token';
/** The Host of a case's request unless it gives its own. */
export const CASE_HOST = '127.0.0.1:8080';
/** The id of the fake run each case's runs folder holds. */
export const CASE_RUN = 'fake';

export interface HttpRequest {
  method?: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  /** A string as is; bytes; an object as JSON. */
  body?: string | Buffer | Record<string, unknown>;
}

export interface HttpCaseContext extends CaseContext {
  /** The server's runs folder: a copy of the fixtures' fake run as `fake`. */
  runs: string;
  server: ServeApp;
  /** Requests a setup leaves running; awaited after the case's own request. */
  background: Promise<unknown>[];
}

export interface HttpCase {
  /** Stable id, H01...; the doc lists every one. */
  id: string;
  /** What is given, for a reader: the server's settings and the request's point. */
  given: string;
  /** This case's settings beside the defaults (its runs folder, CASE_TOKEN, the fixtures' fake run as the default model). */
  server?: (ctx: CaseContext & { runs: string }) => ServeOverride;
  /** Files to make or requests to start once the server is built. */
  setup?: (ctx: HttpCaseContext) => Promise<void>;
  request: HttpRequest | ((ctx: HttpCaseContext) => HttpRequest | Promise<HttpRequest>);
  status: number;
  /** The `error` of the JSON body (4xx and 5xx answers). */
  error?: RegExp;
  /** Further checks of the answer (headers, a success's body); what it returns is shown in the doc. */
  check?: (res: LightMyRequestResponse, ctx: HttpCaseContext) => Promise<string | void> | string | void;
}

export interface HttpObserved {
  c: HttpCase;
  status: number;
  /** The `error` of the body, if any. */
  message?: string;
  /** What `check` said, else the error message, else the start of the body. */
  shown: string;
  /** The request, as the doc shows it. */
  request: string;
  body: string;
  /** Paths of this machine found in the body. */
  paths: string[];
  seconds: number;
  /** A failure of the setup or of `check`. */
  error?: string;
}

const bodyOf = (r: HttpRequest) => (r.body === undefined || typeof r.body === 'string' || Buffer.isBuffer(r.body) ? r.body : JSON.stringify(r.body));

function describe(r: HttpRequest): string {
  const headers = Object.entries(r.headers ?? {}).map(([k, v]) => `${k}: ${v}`);
  const body = r.body === undefined ? '' : Buffer.isBuffer(r.body) ? ` (${r.body.length} bytes)` : ` ${bodyOf(r)}`;
  return `${r.method ?? 'GET'} ${r.url}${headers.length ? ` [${headers.join('; ')}]` : ''}${body}`.split(CASE_TOKEN).join('$TOKEN');
}

/** This machine's folders that no answer may show. */
function privatePaths(ctx: CaseContext): string[] {
  return [ctx.fx.root, ctx.dir, REPO_ROOT, os.homedir()].filter((p) => p.length > 1);
}

/** Every case's server looks for vgg19's weights in the fixtures' empty cache: the model is unavailable. */
async function isolate(ctx: CaseContext): Promise<void> {
  process.env.FASHION_CNN_CACHE = ctx.fx.env.FASHION_CNN_CACHE;
  delete process.env.FASHION_CNN_VGG19_WEIGHTS;
  await fs.mkdir(ctx.fx.env.FASHION_CNN_CACHE, { recursive: true });
}

export async function runHttpCase(c: HttpCase): Promise<HttpObserved> {
  const fx = await sharedFixtures();
  const dir = await fs.mkdtemp(path.join(fx.root, `case-${c.id}-`));
  const runs = path.join(dir, 'runs');
  const base: CaseContext = { dir, fx };
  await isolate(base);
  const started = performance.now();
  let res: LightMyRequestResponse | null = null;
  let request = '';
  let shown = '';
  let error: string | undefined;
  let server: ServeApp | null = null;
  try {
    await copyDir(fx.fakeRun, path.join(runs, CASE_RUN));
    server = await buildServer({ runsDir: runs, defaultModelDir: fx.fakeRun, token: CASE_TOKEN, preprocessThreads: 0, backend: 'wasm', ...c.server?.({ ...base, runs }) });
    const ctx: HttpCaseContext = { ...base, runs, server, background: [] };
    await c.setup?.(ctx);
    const r = typeof c.request === 'function' ? await c.request(ctx) : c.request;
    request = describe(r);
    const json = r.body !== undefined && typeof r.body === 'object' && !Buffer.isBuffer(r.body);
    res = await server.app.inject({ method: r.method ?? 'GET', url: r.url, headers: { host: CASE_HOST, ...(json ? { 'content-type': 'application/json' } : {}), ...r.headers }, payload: bodyOf(r) });
    await Promise.allSettled(ctx.background);
    const said = await c.check?.(res, ctx);
    shown = said ?? errorOf(res) ?? res.body.slice(0, 120);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    await server?.shutdown();
  }
  const body = res?.body ?? '';
  const privates = privatePaths(base);
  return { c, status: res?.statusCode ?? -1, message: res ? errorOf(res) : undefined, shown: shown.split(CASE_TOKEN).join('$TOKEN'), request, body, paths: privates.filter((p) => body.includes(p)), seconds: (performance.now() - started) / 1000, error };
}

/** The `error` of a JSON body, if it has one. */
export function errorOf(res: LightMyRequestResponse): string | undefined {
  try {
    const body = JSON.parse(res.body) as { error?: unknown };
    return typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/** One case after another: they share this process's environment, and some start workers. */
export async function runHttpCases(cases: readonly HttpCase[], onDone?: (o: HttpObserved) => void): Promise<HttpObserved[]> {
  const out: HttpObserved[] = [];
  for (const c of cases) {
    const o = await runHttpCase(c);
    onDone?.(o);
    out.push(o);
  }
  return out;
}

/** What is wrong with an observed case ([] when it answers as the table says). */
export function httpProblems(o: HttpObserved): string[] {
  const out: string[] = [];
  if (o.error) out.push(`setup/check: ${o.error}`);
  if (o.status !== o.c.status) out.push(`status ${o.status}, expected ${o.c.status}`);
  if (o.status >= 400) {
    let keys: string[] = [];
    try {
      keys = Object.keys(JSON.parse(o.body) as object);
    } catch {
      // not JSON: reported below
    }
    if (keys.join() !== 'error') out.push(`the body is not {"error": ...}: ${o.body.slice(0, 200)}`);
  }
  if (o.c.error && !o.c.error.test(o.message ?? '')) out.push(`the error does not match ${o.c.error}: ${o.message ?? '(none)'}`);
  if (/internal error/.test(o.body)) out.push('an internal error');
  if (o.paths.length) out.push(`the answer shows paths of this machine (${o.paths.join(', ')})`);
  return out;
}
