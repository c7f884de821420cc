import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * `mkdir -p` that always ends. Node's own `fs.mkdir(dir, { recursive: true })` loops forever (Node
 * 20) where the kernel refuses a folder with ENOENT although its parent exists: `/proc/x`, `/sys/x`.
 * An existing folder (or a link to one) is fine; a file in the way fails with EEXIST or ENOTDIR.
 */
export async function makeDirs(dir: string): Promise<void> {
  const exists = async () => (await fs.stat(dir).catch(() => null))?.isDirectory() ?? false;
  try {
    await fs.mkdir(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await exists())) return;
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw e;
    await makeDirs(parent);
  }
  // The parents exist now: one more try, whose failure (ENOENT again: /proc) is final.
  await fs.mkdir(dir).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST' || !(await exists())) throw e;
  });
}

/** Writes a file and flushes it to disk, so that a rename or commit that follows never points at lost data. */
export async function writeFileSynced(file: string, data: string | Uint8Array): Promise<void> {
  const fh = await fs.open(file, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes a file so that readers see either the old content or the new one, never a half. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await makeDirs(path.dirname(file));
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFileSynced(tmp, data);
    await fs.rename(tmp, file);
  } catch (e) {
    // A write that fails (a folder where the file should go, a full disk) leaves nothing behind.
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Appends one line. A crash mid-append can leave a partial last line; readers of such files drop
 * a final line without its newline (see readHistory in src/runs), so a record is all or nothing.
 */
export async function appendLine(file: string, line: string): Promise<void> {
  await makeDirs(path.dirname(file));
  const fh = await fs.open(file, 'a');
  try {
    await fh.writeFile(line.endsWith('\n') ? line : line + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces a whole directory atomically: the new content is written into a sibling temp dir,
 * then swapped in with renames, so a crash leaves either the old or the new directory whole.
 */
export async function replaceDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = path.dirname(dir);
  await makeDirs(parent);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(dir)}.new-${tag}`);
  const old = path.join(parent, `.${path.basename(dir)}.old-${tag}`);
  await makeDirs(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  let hadOld = false;
  try {
    await fs.rename(dir, old);
    hadOld = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fs.rename(tmp, dir);
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}
