import { createHash } from 'node:crypto';
import path from 'node:path';
import os from 'node:os';
import { Command, InvalidArgumentError, type Option } from 'commander';
import cliProgress from 'cli-progress';
import { UserError } from '../../util/errors.js';
import { resolveProtocol } from '../../train/protocol.js';
import { addBackendOption, addDataOptions, printJson } from '../common.js';
import { commaList, nonNegativeInt, positiveInt } from '../options.js';
import { addTrainingOptions, checkModelNames, givenOn, overridesFromFlags, type TrainingFlags } from './train.js';
import type { GridValue, SweepDefinition, SweepJob, SweepSummary } from '../../sweep/index.js';
import { sweepSecondsLeft } from '../../sweep/eta.js';
import { formatDuration } from '../../util/format.js';

/** The sweep stage, loaded once the flags are checked. */
type SweepModule = typeof import('../../sweep/index.js');

interface SweepFlags extends TrainingFlags {
  models: string[];
  seeds?: number[];
  grid?: string[];
  out?: string;
  runs: string;
  workers: number;
  queue?: string;
  pictures: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const seedList = (v: string) => commaList(v).map((s) => nonNegativeInt(s));

/** The long flag names of the training protocol (what --grid may sweep over). */
function protocolOptions(): Map<string, Option> {
  const probe = addTrainingOptions(new Command());
  return new Map(probe.options.filter((o) => o.long).map((o) => [o.long!.slice(2), o]));
}

/** `--grid lr=0.001,0.0005`: the flag and its values, each parsed and checked as the flag itself is. */
function parseGrid(spec: string, options: Map<string, Option>): [string, GridValue[]] {
  const m = /^([a-z][a-z-]*)=(.+)$/.exec(spec);
  if (!m) throw new UserError(`--grid ${spec}: expected FLAG=VALUE,VALUE (e.g. lr=0.001,0.0005)`);
  const [, flag, list] = m;
  const option = options.get(flag);
  if (!option || flag === 'seed') throw new UserError(`--grid ${spec}: ${flag === 'seed' ? 'seeds are given with --seeds' : `"${flag}" is not a training flag (one of ${[...options.keys()].filter((k) => k !== 'seed' && options.get(k)!.required).join(', ')})`}`);
  if (!option.required) throw new UserError(`--grid ${spec}: --${flag} takes no value; sweep over settings that do`);
  const values = commaList(list).map((v) => {
    try {
      if (option.argChoices && !option.argChoices.includes(v)) throw new InvalidArgumentError(`allowed: ${option.argChoices.join(', ')}`);
      return (option.parseArg ? option.parseArg(v, undefined) : v) as GridValue;
    } catch (e) {
      throw new UserError(`--grid ${spec}: ${v} is not a value of --${flag} (${(e as Error).message})`);
    }
  });
  if (new Set(values.map(String)).size !== values.length) throw new UserError(`--grid ${spec}: a value is given twice`);
  return [flag, values];
}

/** The protocol flags given on the command line, as `--flag value` words (the sweep's fixed settings). */
function givenWords(cmd: Command, options: Map<string, Option>): string[] {
  const words: string[] = [];
  for (const [flag, option] of options) {
    const key = option.attributeName();
    if (cmd.getOptionValueSource(key) !== 'cli' || flag === 'seed') continue;
    const value = cmd.getOptionValue(key) as unknown;
    words.push(option.required ? `--${flag} ${String(value)}` : value === false ? `--no-${flag}` : `--${flag}`);
  }
  return words;
}

/** Every job of the sweep, its protocol resolved as `fashion-cnn train` would for the same flags. */
function expandJobs(f: SweepFlags, cmd: Command, grid: [string, GridValue[]][], seeds: number[], options: Map<string, Option>, { gridCombinations, configName, jobId }: SweepModule): SweepJob[] {
  const given = givenOn(cmd);
  const jobs: SweepJob[] = [];
  for (const model of f.models) {
    for (const settings of gridCombinations(grid)) {
      const config = configName(model, settings);
      const swept = new Set(Object.keys(settings).map((k) => options.get(k)!.attributeName()));
      const flags = { ...f, ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [options.get(k)!.attributeName(), v])) } as TrainingFlags;
      for (const seed of seeds) {
        const overrides = overridesFromFlags({ ...flags, seed }, (k) => k === 'seed' || swept.has(k) || given(k));
        const { hyper, augmentation } = resolveProtocol(model, overrides);
        jobs.push({ id: jobId(config, seed), config, model, seed, settings, modelOptions: {}, hyper, augmentation, pictures: f.pictures });
      }
    }
  }
  return jobs;
}

/**
 * A progress bar over every epoch of every run, with an ETA priced per configuration
 * (src/sweep/eta.ts); plain lines when stderr is not a terminal, with the same ETA.
 */
function sweepProgress(): { update(s: SweepSummary): void; stop(): void } {
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let lastLine = '';
  return {
    update(s) {
      const planned = s.jobs.reduce((a, j) => a + j.plannedEpochs, 0);
      const done = s.jobs.reduce((a, j) => a + (j.state === 'done' ? j.plannedEpochs : j.epochs), 0);
      const runs = `${s.counts.done}/${s.jobs.length} runs${s.counts.running ? `, ${s.counts.running} running` : ''}${s.counts.failed ? `, ${s.counts.failed} failed` : ''}`;
      const secondsLeft = sweepSecondsLeft(s);
      const eta = done >= planned ? 'done' : secondsLeft === null ? 'time left not known yet' : `about ${formatDuration(secondsLeft)} left`;
      if (tty) {
        bar ??= new cliProgress.SingleBar({ format: 'sweep [{bar}] {percentage}% | {runs} | epochs {value}/{total} | {eta}', stream: process.stderr }, cliProgress.Presets.shades_classic);
        if (!bar.isActive) bar.start(planned, done, { runs, eta });
        bar.update(done, { runs, eta });
      } else {
        // One line per finished epoch, not per poll: a log stays readable.
        const line = `sweep: ${runs}, epochs ${done}/${planned}`;
        if (line !== lastLine) process.stderr.write(`${line}; ${eta}\n`);
        lastLine = line;
      }
    },
    stop: () => bar?.stop(),
  };
}

/**
 * SIGINT and SIGTERM stop a local sweep cleanly: each run under way finishes its epoch and its
 * checkpoint, then the summary is written (and the exit code is 128 + the signal's number, as a
 * shell reports a process the signal ended). A second signal ends at once; the jobs' processes see
 * their channel close and end too, and their runs resume from the last checkpoint. A sweep on a
 * queue only watches the workers, so a signal ends it at once.
 */
function stopOnSignal(onQueue: boolean, log: (line: string) => void) {
  const controller = new AbortController();
  const exitCodeOf = (signal: NodeJS.Signals) => 128 + os.constants.signals[signal];
  let received: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received || onQueue) process.exit(exitCodeOf(signal));
    received = signal;
    log(`sweep: ${signal}: the runs under way stop once their epoch is checkpointed (a second ${signal} stops them at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    /** The exit code of a sweep that a signal stopped. */
    exitCode: () => (received ? exitCodeOf(received) : 0),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export function registerSweep(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('train many runs (models x grid settings x seeds) and summarise them: mean ± std per configuration (sweep.json, sweep.md); on this machine or through a BullMQ queue that workers on several machines take')
    .requiredOption('--models <list>', 'comma-separated models, each trained with its own protocol (its recipe) under the flags given', commaList)
    .option('--seeds <list>', 'comma-separated seeds, one run per seed and configuration (default: the protocol\'s seed)', seedList)
    .option('--grid <flag=values>', 'a training flag and the values to sweep it over, e.g. lr=0.001,0.0005; repeatable (every combination is run)', collect)
    .option('--runs <dir>', 'the runs folder (with --queue: the folder every worker mounts at its own --runs)', 'runs')
    .option('--out <dir>', 'the sweep\'s folder: sweep.json, sweep.md and one run directory per job (default <runs>/sweeps/<models>-<digest of the definition>); the same command again resumes it')
    .option('--workers <n>', 'local worker processes (without --queue). Default 1: each run already uses every core (oneDNN threads), so on 2 cores two runs at once only share them, and each takes twice as long', positiveInt, 1)
    .option('--queue <redis-url>', 'put the jobs on a BullMQ queue on this Redis (redis://host:port) for `fashion-cnn worker` processes to take, on any machine that mounts --runs')
    .option('--no-pictures', 'skip drawing each run\'s pictures')
    .option('--json', 'print the summary as JSON on stdout');
  addTrainingOptions(cmd);
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (f: SweepFlags, command: Command) => {
    const options = protocolOptions();
    const grid = (f.grid ?? []).map((g) => parseGrid(g, options));
    if (new Set(grid.map(([k]) => k)).size !== grid.length) throw new UserError('--grid: a flag is swept twice; give all its values in one --grid');
    const seeds = f.seeds ?? [f.seed];
    if (new Set(seeds).size !== seeds.length) throw new UserError(`--seeds ${seeds.join(',')}: a seed is given twice`);
    await checkModelNames(f.models);
    const sweep: SweepModule = await import('../../sweep/index.js');
    const queue = f.queue !== undefined ? sweep.parseRedisUrl(f.queue) : undefined;
    const definition: SweepDefinition = { models: f.models, seeds, grid, flags: givenWords(command, options) };
    const jobs = expandJobs(f, command, grid, seeds, options, sweep);
    const name = `${f.models.join('+')}-${createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 8)}`;
    const dir = f.out ?? path.join(f.runs, 'sweeps', name);
    const progress = sweepProgress();
    const stopping = stopOnSignal(queue !== undefined, (l) => {
      progress.stop();
      process.stderr.write(`${l}\n`);
    });
    try {
      const { summary, files } = await sweep.runSweep({ dir, name: path.basename(dir), definition, jobs, workers: f.workers, queue, runsRoot: queue ? f.runs : undefined, dataDir: f.dataDir, backend: f.backend, onProgress: (s) => progress.update(s), log: (l) => process.stderr.write(`${l}\n`), signal: stopping.signal });
      progress.stop();
      if (f.json) printJson(summary);
      else process.stderr.write(`sweep ${summary.name}: ${stopping.signal.aborted ? 'stopped with ' : ''}${summary.counts.done} of ${summary.jobs.length} runs done${summary.counts.failed ? `, ${summary.counts.failed} failed` : ''}; written: ${files.json}, ${files.markdown}${stopping.signal.aborted ? '; the same command resumes it' : ''}\n`);
      if (stopping.signal.aborted) process.exitCode = stopping.exitCode();
      else if (summary.counts.failed) process.exitCode = 1;
    } finally {
      progress.stop();
      stopping.dispose();
    }
  });
}
