/**
 * What the sweep tests share: tiny jobs, a run's history without its times, the CLI started as a
 * child process whose output is kept, and polling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { readHistory } from '../../src/runs/index.js';
import { REPO_ROOT } from './cli.js';

const BIN = path.join(REPO_ROOT, 'bin/fashion-cnn.js');

/** Tiny jobs: cnn1 on 600 images, 3 epochs of 19 steps (long enough to be killed in the middle). */
export const TINY = ['--limit', '600', '--epochs', '2', '--aug-epochs', '1', '--batch-size', '32', '--no-pictures'];

/** A run's history without the epochs' times (which differ from run to run). */
export const rows = async (run: string) => (await readHistory(run)).map(({ seconds: _s, ...r }) => r);

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * The CLI in a child process in `cwd`, its stdout and stderr kept together. `group`: it leads a
 * process group of its own, as a shell's foreground job does, so that a test can signal the whole
 * group as a terminal's Ctrl-C does.
 */
export function startCli(cwd: string, args: string[], env: Record<string, string> = {}, opts: { group?: boolean } = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.group === true });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, output: () => text, exited };
}

export async function until(ok: () => boolean | Promise<boolean>, ms = 120_000, what = 'condition'): Promise<void> {
  for (const t0 = Date.now(); !(await ok()); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A free loopback port. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** The process's exit code, or an error with its output if it has not ended within `ms` (a test must not hang). */
export async function exitWithin(p: Proc, ms: number, what: string): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms:\n${p.output()}`)), ms)));
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}
