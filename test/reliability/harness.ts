/**
 * Runs the cases of the bad-input matrix: each in a fresh temp folder, through the CLI, two at a
 * time: in a child process, or in this process through main(argv) when the case allows it
 * (runsInProcess). Used by test/unit/reliability.test.ts and test/integration/reliability.test.ts
 * (which assert) and by scripts/reliability-doc.ts (which writes docs/RELIABILITY.md from what it
 * observes).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runCli, runMain, type CliResult } from '../helpers/cli.js';
import { makeFixtures, type Fixtures } from './fixtures.js';

export const AREAS = ['data', 'predict', 'flags', 'cache', 'run directory', 'resume', 'interrupt', 'concurrency', 'output'] as const;
export type Area = (typeof AREAS)[number];

export interface CaseContext {
  /** This case's own empty folder (also the working directory of the command). */
  dir: string;
  fx: Fixtures;
}

export interface Invocation {
  args: string[];
  env?: Record<string, string>;
}

export interface Case {
  /** Stable id, e.g. D01; the doc lists every one. */
  id: string;
  area: Area;
  /** What is given, for a reader: the bad input and the command. */
  given: string;
  /** Makes the bad files in ctx.dir and returns the command line; or fixed `args`. */
  setup?: (ctx: CaseContext) => Promise<string[] | Invocation>;
  args?: string[];
  /** Expected exit code: 2 for a user error (also commander's flag errors), 1 when predict could not classify some images, 0 for success. */
  code: 0 | 1 | 2;
  /**
   * The one stderr line (for an error) or the stderr line that shows the outcome (otherwise).
   * Paths are as the case made them (use `dir`-relative patterns, not absolute ones).
   */
  line: RegExp;
  /** Where `line` is looked for: stderr (default), or stdout for a success that prints nothing on stderr. */
  stream?: 'stderr' | 'stdout';
  /** Further checks of the outcome (files written or not, stdout). */
  check?: (ctx: CaseContext, r: CliResult) => Promise<void> | void;
  /** Read the command's stdout and stderr through pipes that take nothing for this many ms (a slow reader). */
  slowReaderMs?: number;
  /** Per-case time limit for the command, ms (default 120 s); a case that sets one runs in a child process (runsInProcess). */
  timeoutMs?: number;
  /** Why the case needs a process of its own where its area would run it in-process (runsInProcess): its command trains a model. */
  ownProcess?: string;
  /**
   * Set when the behaviour is a known bug in code this branch may not change: the case then
   * expects the current (wrong) behaviour, so the table still records it.
   */
  knownBug?: string;
}

export interface Observed {
  c: Case;
  result: CliResult;
  /** The stderr line the case is about (the one matching `line`, else the first), paths shortened. */
  shown: string;
  /** The command line, paths shortened. */
  command: string;
  seconds: number;
  /** A failure of the setup or of `check` (message), if any. */
  error?: string;
}

/** Non-empty stderr lines. */
export const stderrLines = (r: CliResult) => r.stderr.split('\n').filter((l) => l.trim() !== '');
const streamLines = (r: CliResult, stream: Case['stream']) => (stream === 'stdout' ? r.stdout : r.stderr).split('\n').filter((l) => l.trim() !== '');

/** Replaces temp paths (and the ports of the cases' own servers) by short names so that the doc does not depend on the machine or the run. */
export function shorten(text: string, ctx: CaseContext): string {
  return text
    .split(ctx.dir)
    .join('$CASE')
    .split(ctx.fx.root)
    .join('$FIX')
    .replace(/127\.0\.0\.1:\d{4,5}\b/g, '127.0.0.1:$PORT')
    .replace(/\bprocess \d+ \(since [^)]+\)/g, 'process $PID (since $TIME)');
}

/**
 * Areas whose cases need a process of their own: they train (cache), kill a run (interrupt), hold
 * a run's lock by process id beside another process (concurrency), or read the CLI through slow
 * pipes (output). A resume case is refused before any training, so it runs in-process unless it
 * trains (`ownProcess`).
 */
export const PROCESS_AREAS: readonly Area[] = ['interrupt', 'concurrency', 'cache', 'output'];

/**
 * Whether a case runs in the test's own process, through the CLI's exported main(argv) (with its
 * environment, working directory, stdout, stderr and exit code as a child would have them), rather
 * than as a child process. The rule: a case runs in-process unless it needs a process of its own:
 * its area is one of PROCESS_AREAS, it reads through a slow pipe, it sets its own time limit (a
 * regression would hang, or leave a server listening, and only a child can be stopped), or its
 * command trains a model (`ownProcess` says so). Either way the case keeps its row, command and
 * line, and is checked by the same `problems`.
 */
export function runsInProcess(c: Case): boolean {
  return !PROCESS_AREAS.includes(c.area) && c.slowReaderMs === undefined && c.timeoutMs === undefined && c.ownProcess === undefined;
}

let fixtures: Promise<Fixtures> | null = null;
export function sharedFixtures(): Promise<Fixtures> {
  fixtures ??= makeFixtures();
  return fixtures;
}

export async function removeFixtures(): Promise<void> {
  if (fixtures) await fs.rm((await fixtures).root, { recursive: true, force: true });
}

/** A shell word for the doc's command lines ($'...' when it holds control characters). */
function quote(a: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(a)) return `$'${a.replace(/[\\']/g, (c) => `\\${c}`).replace(/[\u0000-\u001f]/g, (c) => JSON.stringify(c).slice(1, -1))}'`;
  return a === '' || /[\s'"$`\\|&;()<>*?]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a;
}

export async function runCase(c: Case): Promise<Observed> {
  const fx = await sharedFixtures();
  const dir = await fs.mkdtemp(path.join(fx.root, `case-${c.id}-`));
  const ctx: CaseContext = { dir, fx };
  const started = performance.now();
  let result: CliResult = { code: -1, stdout: '', stderr: '' };
  let args: string[] = c.args ?? [];
  let envShown: string[] = [];
  let error: string | undefined;
  try {
    const inv = c.setup ? await c.setup(ctx) : { args };
    const { args: a, env } = Array.isArray(inv) ? { args: inv, env: undefined } : inv;
    args = a;
    envShown = Object.entries(env ?? {}).map(([k, v]) => `${k}=${quote(v)}`);
    const opts = { env: { ...fx.env, ...env }, cwd: dir, timeoutMs: c.timeoutMs ?? 120_000 };
    result = runsInProcess(c) ? await runMain(args, opts) : await runCli(args, { ...opts, slowReaderMs: c.slowReaderMs });
    await c.check?.(ctx, result);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const lines = streamLines(result, c.stream);
  const line = lines.find((l) => c.line.test(l)) ?? lines[0] ?? '';
  return {
    c,
    result,
    shown: shorten(line, ctx),
    command: shorten([...envShown, 'fashion-cnn', ...args.map(quote)].join(' '), ctx),
    seconds: (performance.now() - started) / 1000,
    error,
  };
}

/**
 * Runs `cases`: first those that run in-process, one after another (they change this process's
 * environment and directory while they run, which children started meanwhile would inherit), then
 * the others with at most `concurrency` at a time; results in table order.
 */
export async function runCases(cases: readonly Case[], concurrency = 2, onDone?: (o: Observed) => void): Promise<Observed[]> {
  const out: Observed[] = new Array(cases.length);
  const order = [...cases.keys()];
  const inProcess = order.filter((i) => runsInProcess(cases[i]));
  for (const i of inProcess) {
    out[i] = await runCase(cases[i]);
    onDone?.(out[i]);
  }
  const spawned = order.filter((i) => !runsInProcess(cases[i]));
  let next = 0;
  const worker = async () => {
    while (next < spawned.length) {
      const i = spawned[next++];
      out[i] = await runCase(cases[i]);
      onDone?.(out[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, spawned.length) }, worker));
  return out;
}

/** Lines a command prints on stderr as it works, before any error: the backend in use, the run, a download. */
export const PROGRESS_LINES: readonly RegExp[] = [/^downloading \S+( to \S+| \(\d+\.\d MB\))?$/, /^ {2}\S+: (done, [\d.]+ MB|\d+% \()/, /^backend: /, /^== \S+: /, /^note: /, /^run \S+: /, /^resuming \S+ after epoch \d+$/, /has no checkpoint yet: starting it from the beginning$/, /^\S+ phase [12] (\(augmented\) )?epoch \d+\/\d+/, /^\S+ epoch \d+ \[(base|augment)\] loss /, /^compare: (timing a few training steps|model \d+ of \d+ )/];

/**
 * What is wrong with an observed case, compared with its table entry ([] when it behaves as the
 * table says): exit code, the line, no stack trace, one line and an empty stdout for errors.
 */
export function problems(o: Observed): string[] {
  const { c, result: r } = o;
  const out: string[] = [];
  if (o.error) out.push(`setup/check: ${o.error}`);
  if (r.code !== c.code) out.push(`exit code ${r.code}, expected ${c.code}`);
  const lines = stderrLines(r);
  if (!streamLines(r, c.stream).some((l) => c.line.test(l))) out.push(`no ${c.stream ?? 'stderr'} line matches ${c.line}`);
  if (/\n\s+at .+:\d+:\d+\)?/.test(r.stderr)) out.push('stack trace on stderr');
  if (!c.knownBug && /internal error/.test(r.stderr)) out.push('an internal error');
  if (c.code === 2) {
    // One error line, the last; before it only the progress lines a command prints as it starts.
    const errors = lines.filter((l) => l.startsWith('fashion-cnn: '));
    if (errors.length !== 1 || lines.at(-1) !== errors[0]) out.push(`${errors.length} error lines (expected one, the last line)`);
    const other = lines.filter((l) => !l.startsWith('fashion-cnn: ') && !PROGRESS_LINES.some((re) => re.test(l)));
    if (other.length) out.push(`unexpected stderr lines: ${other.join(' | ')}`);
    if (r.stdout !== '') out.push('output on stdout');
  }
  if (c.code === 1) {
    // predict: one line per image that failed, then the count; the classified ones are on stdout.
    const extra = lines.filter((l) => !/: error: /.test(l) && !/^fashion-cnn: \d+ of \d+ images could not be classified$/.test(l));
    if (extra.length) out.push(`unexpected stderr lines: ${extra.join(' | ')}`);
  }
  return out;
}
