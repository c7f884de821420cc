/**
 * Runs the fashion-cnn CLI as a user would, in a child process (runCli), or its exported
 * main(argv) in this process (runMain), with the same result: exit code, stdout and stderr.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
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

/** Where main(argv)'s output goes while runMain runs it: writes made in its async context only. */
const captured = new AsyncLocalStorage<{ stdout: string; stderr: string }>();
let capturing = false;

/**
 * Routes process.stdout/stderr writes made inside runMain's async context to its capture; every
 * other write (the test runner's report, other tests) goes through as before.
 */
function captureOutput(): void {
  if (capturing) return;
  capturing = true;
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const sink = captured.getStore();
      if (!sink) return write(chunk, ...rest);
      sink[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      const done = rest.find((a) => typeof a === 'function') as (() => void) | undefined;
      if (done) process.nextTick(done);
      return true;
    }) as typeof stream.write;
  }
}

/** runMain calls run one after another: they share the process's environment, directory and exit code. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs the CLI's main(argv) in this process, as runCli runs the CLI in a child: `opts.env` set in
 * process.env and `opts.cwd` as the working directory for the call, its stdout and stderr
 * captured, process.exitCode put back afterwards. For commands that end at flag parsing or soon
 * after: one that does not end within `opts.timeoutMs` is reported with exit code -1 (it cannot be
 * killed, unlike a child).
 */
export function runMain(args: string[], opts: Omit<RunCliOptions, 'slowReaderMs'> = {}): Promise<CliResult> {
  const run = queue.then(() => runMainNow(args, opts));
  queue = run.catch(() => {});
  return run;
}

async function runMainNow(args: string[], opts: Omit<RunCliOptions, 'slowReaderMs'>): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.js');
  captureOutput();
  const savedEnv = Object.fromEntries(Object.keys(opts.env ?? {}).map((k) => [k, process.env[k]]));
  const savedCwd = process.cwd();
  const savedExitCode = process.exitCode;
  const sink = { stdout: '', stderr: '' };
  Object.assign(process.env, opts.env);
  process.chdir(opts.cwd ?? REPO_ROOT);
  process.exitCode = undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const limit = opts.timeoutMs ?? 300_000;
    const timedOut = new Promise<number>((resolve) => (timer = setTimeout(() => resolve(-1), limit)));
    const code = await captured.run(sink, () => Promise.race([main(args), timedOut]));
    if (code === -1) sink.stderr += `(runMain: main(argv) did not end within ${limit} ms)\n`;
    return { code, ...sink };
  } finally {
    clearTimeout(timer);
    process.exitCode = savedExitCode;
    process.chdir(savedCwd);
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
