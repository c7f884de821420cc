/**
 * Reading a file of a run for a client. A run folder is the user's, and may hold anything: a
 * symbolic link to a file elsewhere (~/.ssh/id_rsa named curves.png), a pipe that never ends. Only
 * regular files whose real path is inside the run are served.
 */
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { FastifyReply } from 'fastify';
import { HttpError } from './errors.js';

const missing = (e: unknown) => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '');

/** The bytes of `file`, which must be a regular file inside `runDir` once links are followed; `name` is how messages call it. */
export async function readRunFile(runDir: string, file: string, name: string): Promise<Buffer> {
  let root: string, real: string;
  try {
    [root, real] = await Promise.all([fs.realpath(runDir), fs.realpath(file)]);
  } catch (e) {
    if (missing(e)) throw new HttpError(404, `${name} does not exist`);
    throw e;
  }
  const notServed = new HttpError(403, `${name} is not a regular file inside the run (a link out of it, a folder or a device?): not served`);
  if (!real.startsWith(root + path.sep)) throw notServed;
  // The real path, opened without following a link swapped in since, and without waiting on a pipe.
  const handle = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
    if (missing(e)) throw new HttpError(404, `${name} does not exist`);
    if (e.code === 'ELOOP' || e.code === 'EISDIR') throw notServed;
    throw e;
  });
  try {
    if (!(await handle.stat()).isFile()) throw notServed;
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

const CONTENT_TYPES: Record<string, string> = { '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json', '.tsv': 'text/tab-separated-values', '.pbtxt': 'text/plain' };

/** Answers with a file of a run (readRunFile's rules), typed by its extension. */
export async function sendRunFile(reply: FastifyReply, runDir: string, file: string, name: string): Promise<Buffer> {
  const data = await readRunFile(runDir, file, name);
  reply.header('content-type', CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream');
  return data;
}
