/**
 * HTTP errors: every failure leaves the server as JSON `{error}` with a 4xx (the client's fault)
 * or a 5xx without details (ours; the stack goes to the log, never to the client). No message
 * shows a path of the server's file system: run paths are shown relative to the runs folder (the
 * client knows runs by id), any other absolute path by its last name only.
 */
import path from 'node:path';
import { RunExistsError, RunFileCorruptError, RunFileMissingError, RunMismatchError, RunNotFoundError } from '../runs/index.js';
import { UserError, oneLine } from '../util/errors.js';

export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Where a path in a message starts: at the start, or after a space, a quote, a bracket, '=' or ','. */
const PATH_START = `(^|[\\s'"\`([{=,])`;

/** An absolute path in a message (not the '//' of a URL, which follows a ':'), and not one of this API's routes. */
const ABSOLUTE_PATH = new RegExp(`${PATH_START}(/(?!api/|healthz)[^\\s'"\`)\\]},;]+)`, 'g');

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A message as a client may see it: one line, run paths relative to the runs folder, other paths hidden. */
export function clientMessage(message: string, runsDir: string): string {
  let text = message;
  // Both spellings, as given (normalised) and absolute: a message may hold either.
  for (const dir of new Set([path.normalize(runsDir), path.resolve(runsDir)])) {
    if (dir !== '.' && dir !== '/') text = text.replace(new RegExp(`${PATH_START}${escapeRegExp(dir.replace(/\/+$/, ''))}/`, 'g'), '$1');
  }
  text = text.replace(ABSOLUTE_PATH, (_match, before: string, file: string) => {
    // A sentence's full stop or colon after the path stays.
    const [, body, tail] = /^(.*?)([.:]*)$/.exec(file)!;
    return `${before}…/${path.basename(body)}${tail}`;
  });
  return oneLine(text);
}

/** Every string of a value (an event sent to clients) through clientMessage. */
export function clientValue<T>(value: T, runsDir: string): T {
  if (typeof value === 'string') return clientMessage(value, runsDir) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => clientValue(v, runsDir)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clientValue(v, runsDir)])) as T;
  return value;
}

/** The status and message a thrown value becomes; null for an unexpected error (a 500). */
export function httpErrorOf(e: unknown, runsDir: string): { status: number; message: string; headers: Record<string, string> } | null {
  const known = (status: number, headers: Record<string, string> = {}) => ({ status, message: clientMessage((e as Error).message, runsDir), headers });
  if (e instanceof HttpError) return known(e.statusCode, e.headers);
  if (e instanceof RunNotFoundError || e instanceof RunFileMissingError) return known(404);
  if (e instanceof RunExistsError) return known(409);
  if (e instanceof RunFileCorruptError || e instanceof RunMismatchError) return known(422);
  if (e instanceof UserError) return known(400);
  // Fastify's own errors (validation, body too large, unsupported type, rate limit) carry a 4xx.
  const status = (e as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return known(status);
  return null;
}
