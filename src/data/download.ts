/**
 * Downloads the Fashion-MNIST files from a mirror into a cache folder. Each file streams into a
 * temp file beside its final name, is checked (gzip, IDX structure, MD5 of the uncompressed
 * content), and only then renamed into place, so the cache never holds a partial or wrong file.
 * Node's own http/https modules do the transfer: no dependency needed for plain GETs.
 * `downloadToFile` is the same transfer for any file (model weights: src/models/keras-h5.ts).
 */
import http from 'node:http';
import https from 'node:https';
import { createWriteStream, promises as fs } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes, createHash } from 'node:crypto';
import path from 'node:path';
import { makeDirs } from '../util/atomic.js';
import { UserError, errorMessage } from '../util/errors.js';
import { readMaybeGzip, parseIdx } from './idx.js';
import { DATA_FILE_KEYS, DEFAULT_MIRROR, FILE_NAMES, OFFICIAL_MD5 } from './files.js';
import type { DataFileKey } from './types.js';

export interface DownloadProgressEvent {
  /** File name, e.g. train-images-idx3-ubyte.gz. */
  file: string;
  url: string;
  received: number;
  /** From Content-Length; null when the server does not say. */
  total: number | null;
  done: boolean;
}
export type DownloadProgress = (event: DownloadProgressEvent) => void;

export interface DownloadFileOptions {
  /** MD5 of the uncompressed content; when given (and verify is not false) a mismatch is refused. */
  expectedMd5?: string;
  verify?: boolean;
  onProgress?: DownloadProgress;
  /** Give up when the server sends nothing for this long (connecting included). */
  timeoutMs?: number;
}

export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;

/** Downloads one IDX file to `dest` atomically; returns the MD5 of its uncompressed content. */
export async function downloadFile(url: string, dest: string, opts: DownloadFileOptions = {}): Promise<{ md5: string; bytes: number }> {
  const name = path.basename(dest);
  let md5 = '';
  const check = async (tmp: string) => {
    try {
      const { bytes: content } = await readMaybeGzip(tmp);
      parseIdx(content, name);
      md5 = createHash('md5').update(content).digest('hex');
    } catch (e) {
      throw new UserError(`${name} downloaded from ${url} is not a valid IDX file (${errorMessage(e)}); it was not saved`);
    }
    if (opts.verify !== false && opts.expectedMd5 && md5 !== opts.expectedMd5) {
      throw new UserError(`${name} downloaded from ${url}: checksum mismatch: MD5 of the uncompressed content is ${md5}, expected ${opts.expectedMd5}; it was not saved`);
    }
  };
  const { bytes } = await downloadToFile(url, dest, { onProgress: opts.onProgress, timeoutMs: opts.timeoutMs, check });
  return { md5, bytes };
}

export interface DownloadToFileOptions {
  onProgress?: DownloadProgress;
  /** Give up when the server sends nothing for this long (connecting included). */
  timeoutMs?: number;
  /** Checks the downloaded temp file before it is renamed into place; throwing refuses it (it is deleted). */
  check?: (tmpFile: string) => Promise<void>;
}

/**
 * Downloads any file to `dest` atomically: it streams into a temp file beside `dest`, is checked,
 * flushed to disk and only then renamed; on any failure the temp file is removed and `dest` is untouched.
 */
export async function downloadToFile(url: string, dest: string, opts: DownloadToFileOptions = {}): Promise<{ bytes: number }> {
  const name = path.basename(dest);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;
  await makeDirs(path.dirname(dest));
  const tmp = `${dest}.download-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const bytes = await fetchToFile(url, tmp, name, timeoutMs, opts.onProgress);
    await opts.check?.(tmp);
    await syncFile(tmp);
    await fs.rename(tmp, dest);
    return { bytes };
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

export interface DownloadFashionMnistOptions {
  /** Base URL the four file names are appended to. */
  mirror?: string;
  /** Expected MD5s of the uncompressed files; defaults to the official ones (tests pass fixture values). */
  expectedMd5?: Partial<Record<DataFileKey, string>>;
  verify?: boolean;
  onProgress?: DownloadProgress;
  timeoutMs?: number;
  /** Which files to fetch; all four by default. */
  keys?: readonly DataFileKey[];
}

/** Downloads the Fashion-MNIST files into `dir`; returns each file's path and MD5. */
export async function downloadFashionMnist(dir: string, opts: DownloadFashionMnistOptions = {}): Promise<Partial<Record<DataFileKey, { path: string; md5: string }>>> {
  const base = mirrorBase(opts.mirror ?? DEFAULT_MIRROR);
  const expected = { ...OFFICIAL_MD5, ...opts.expectedMd5 };
  const out: Partial<Record<DataFileKey, { path: string; md5: string }>> = {};
  // One after another: the mirror is the bottleneck, and one progress bar at a time reads better.
  for (const key of opts.keys ?? DATA_FILE_KEYS) {
    const dest = path.join(dir, FILE_NAMES[key]);
    const url = new URL(FILE_NAMES[key], base).toString();
    const { md5 } = await downloadFile(url, dest, { expectedMd5: expected[key], verify: opts.verify, onProgress: opts.onProgress, timeoutMs: opts.timeoutMs });
    out[key] = { path: dest, md5 };
  }
  return out;
}

/** The mirror as a base URL that file names resolve against (with a trailing slash). */
export function mirrorBase(mirror: string): URL {
  let url: URL;
  try {
    url = new URL(mirror.endsWith('/') ? mirror : `${mirror}/`);
  } catch {
    throw new UserError(`invalid mirror URL "${mirror}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserError(`mirror URL "${mirror}" must start with http:// or https://`);
  }
  return url;
}

async function fetchToFile(url: string, file: string, name: string, timeoutMs: number, onProgress?: DownloadProgress): Promise<number> {
  const state = { timedOut: false };
  const res = await get(url, timeoutMs, state, MAX_REDIRECTS);
  const lengthHeader = res.headers['content-length'];
  const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
  let received = 0;
  onProgress?.({ file: name, url, received, total, done: false });
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      onProgress?.({ file: name, url, received, total, done: false });
      cb(null, chunk);
    },
  });
  try {
    await pipeline(res, counter, createWriteStream(file));
  } catch (e) {
    throw networkError(url, e, timeoutMs, state.timedOut);
  }
  if (total !== null && received !== total) {
    throw new UserError(`download of ${url} failed: connection closed after ${received} of ${total} bytes`);
  }
  onProgress?.({ file: name, url, received, total: total ?? received, done: true });
  return received;
}

function get(url: string, timeoutMs: number, state: { timedOut: boolean }, redirectsLeft: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const client = u.protocol === 'https:' ? https : http;
    const req = client.get(u, { timeout: timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location) {
        res.resume();
        if (redirectsLeft <= 0) {
          reject(new UserError(`download of ${url} failed: too many redirects`));
          return;
        }
        get(new URL(location, u).toString(), timeoutMs, state, redirectsLeft - 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new UserError(`download of ${url} failed: HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`));
        return;
      }
      resolve(res);
    });
    // The socket timeout fires on inactivity, while connecting and while the body streams.
    req.on('timeout', () => {
      state.timedOut = true;
      req.destroy(new Error('timed out'));
    });
    req.on('error', (e) => reject(networkError(url, e, timeoutMs, state.timedOut)));
  });
}

function networkError(url: string, e: unknown, timeoutMs: number, timedOut: boolean): UserError {
  if (e instanceof UserError) return e;
  if (timedOut) return new UserError(`download of ${url} failed: timed out (no data for ${timeoutMs / 1000} s)`);
  const code = (e as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed (no network?)',
    ECONNRESET: 'connection reset by the server',
    ENETUNREACH: 'network unreachable',
    EHOSTUNREACH: 'host unreachable',
    ETIMEDOUT: 'connection timed out',
    ERR_STREAM_PREMATURE_CLOSE: 'connection closed before the download finished',
  };
  const reason = (code && reasons[code]) ?? errorMessage(e);
  return new UserError(`download of ${url} failed: ${reason}`);
}

async function syncFile(file: string): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
