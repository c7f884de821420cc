/** Runs the fashion-cnn CLI as a user would, in a child process. */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const compiled = here.includes(`${path.sep}dist${path.sep}`);
export const REPO_ROOT = compiled ? path.resolve(here, '../../..') : path.resolve(here, '../..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /**
   * Read stdout and stderr as a slow reader would: through `(sleep; cat)` pipes that take nothing
   * for this many ms, so that output over a pipe's 64 KiB must wait in the CLI.
   */
  slowReaderMs?: number;
}

const shellWord = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

export function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const entry = compiled
    ? [path.join(REPO_ROOT, 'bin/fashion-cnn.js')]
    : ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts')];
  if (opts.slowReaderMs !== undefined) return runBehindSlowReader([process.execPath, ...entry, ...args], opts.slowReaderMs, opts);
  return runProcess(process.execPath, [...entry, ...args], opts);
}

function runProcess(file: string, args: string[], opts: RunCliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** `command` with its stdout and stderr each behind `(sleep; cat)`; its own exit code is kept in a file. */
async function runBehindSlowReader(command: string[], pauseMs: number, opts: RunCliOptions): Promise<CliResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fashion-cnn-slow-reader-'));
  const codeFile = path.join(dir, 'code');
  const slow = `(sleep ${pauseMs / 1000}; cat)`;
  const script = `{ { ${command.map(shellWord).join(' ')}; echo $? > ${shellWord(codeFile)}; } 2>&1 1>&3 3>&- | ${slow} >&2; } 3>&1 | ${slow}`;
  try {
    const shell = await runProcess('bash', ['-c', script], opts);
    const code = Number((await readFile(codeFile, 'utf8').catch(() => '-1')).trim());
    return { ...shell, code };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
