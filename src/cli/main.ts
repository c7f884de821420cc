#!/usr/bin/env node
/**
 * fashion-cnn's command line: a thin layer that parses flags and calls the pipeline stages.
 * Each command lives in commands/<name>.ts and registers itself on the program.
 */
import { Command, CommanderError } from 'commander';
import { UserError, errorMessage, oneLine } from '../util/errors.js';
import { exitWhenDrained } from '../util/drain.js';

type Register = (program: Command) => void;

/**
 * The commands, each loaded only when needed: a command's module pulls in its stage (TF.js,
 * sharp, ...), so an invocation loads just its own command, and a flag error is reported before
 * any stage is loaded.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  data: async () => (await import('./commands/data.js')).registerData,
  models: async () => (await import('./commands/models.js')).registerModels,
  train: async () => (await import('./commands/train.js')).registerTrain,
  evaluate: async () => (await import('./commands/evaluate.js')).registerEvaluate,
  predict: async () => (await import('./commands/predict.js')).registerPredict,
  compare: async () => (await import('./commands/compare.js')).registerCompare,
  embed: async () => (await import('./commands/embed.js')).registerEmbed,
  bench: async () => (await import('./commands/bench.js')).registerBench,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  sweep: async () => (await import('./commands/sweep.js')).registerSweep,
  worker: async () => (await import('./commands/worker.js')).registerWorker,
};

/** Commander's error (and its "Did you mean" hint) as one line, naming where the usage is. */
function commanderErrorWriter(usage: string) {
  return (str: string, write: (s: string) => void) => {
    const text = str.trim().replace(/^error: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    write(`fashion-cnn: ${text}; see ${usage}\n`);
  };
}

/**
 * The program with the command named first in `argv` registered (every command when none is named,
 * e.g. for --help or an unknown command).
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('fashion-cnn')
    .description('Train, compare, explain and use CNNs that classify Fashion-MNIST clothing images')
    .version(process.env.npm_package_version ?? '0.1.0')
    .configureOutput({ outputError: commanderErrorWriter('fashion-cnn --help') })
    .exitOverride();
  const named = argv.find((a) => !a.startsWith('-'));
  const names = named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]())(program);
  for (const c of program.commands) {
    c.exitOverride();
    c.configureOutput({ outputError: commanderErrorWriter(`fashion-cnn ${c.name()} --help`) });
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed its one-line message (or the help/version text).
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UserError) {
      process.stderr.write(`fashion-cnn: ${oneLine(e.message)}\n`);
      return e.exitCode;
    }
    process.stderr.write(`fashion-cnn: internal error: ${oneLine(errorMessage(e))}\n`);
    if (process.env.FASHION_CNN_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

const isEntry = process.argv[1] && /(cli[\\/]main\.(ts|js)|fashion-cnn(\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  // A reader that went away (`| head`) is not an error of ours: the output is simply not wanted.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  main(process.argv.slice(2)).then(
    (code) => exitWhenDrained(code),
    (e) => {
      process.stderr.write(`fashion-cnn: ${errorMessage(e)}\n`);
      return exitWhenDrained(1);
    },
  );
}
