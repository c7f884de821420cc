/**
 * HTTP errors: every failure leaves the server as JSON `{error}` with a 4xx (the client's fault)
 * or a 5xx without details (ours; the stack goes to the log, never to the client).
 */
import { RunExistsError, RunFileCorruptError, RunFileMissingError, RunMismatchError, RunNotFoundError } from '../runs/index.js';
import { UserError, oneLine } from '../util/errors.js';

export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Run paths in messages are shown relative to the runs folder: the client knows runs by id. */
export function clientMessage(message: string, runsDir: string): string {
  return oneLine(message.split(runsDir.replace(/\/+$/, '') + '/').join(''));
}

/** The status and message a thrown value becomes; null for an unexpected error (a 500). */
export function httpErrorOf(e: unknown, runsDir: string): { status: number; message: string } | null {
  if (e instanceof HttpError) return { status: e.statusCode, message: e.message };
  if (e instanceof RunNotFoundError || e instanceof RunFileMissingError) return { status: 404, message: clientMessage(e.message, runsDir) };
  if (e instanceof RunExistsError) return { status: 409, message: clientMessage(e.message, runsDir) };
  if (e instanceof RunFileCorruptError || e instanceof RunMismatchError) return { status: 422, message: clientMessage(e.message, runsDir) };
  if (e instanceof UserError) return { status: 400, message: clientMessage(e.message, runsDir) };
  // Fastify's own errors (validation, body too large, unsupported type, rate limit) carry a 4xx.
  const status = (e as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return { status, message: oneLine((e as Error).message) };
  return null;
}
