#!/usr/bin/env node
/**
 * fashion-cnn's command line: a thin layer that parses flags and calls the pipeline stages.
 * Each command lives in commands/<name>.ts and registers itself on the program.
 */
import { Command, CommanderError } from 'commander';
import { UserError, errorMessage } from '../util/errors.js';
import { registerData } from './commands/data.js';
import { registerModels } from './commands/models.js';
import { registerTrain } from './commands/train.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerPredict } from './commands/predict.js';
import { registerCompare } from './commands/compare.js';
import { registerEmbed } from './commands/embed.js';
import { registerBench } from './commands/bench.js';

export function buildProgram(): Command {
  const program = new Command('fashion-cnn')
    .description('Train, compare, explain and use CNNs that classify Fashion-MNIST clothing images')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of [registerData, registerModels, registerTrain, registerEvaluate, registerPredict, registerCompare, registerEmbed, registerBench]) {
    register(program);
  }
  program.commands.forEach((c) => c.exitOverride());
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed its one-line message (or the help/version text).
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UserError) {
      process.stderr.write(`fashion-cnn: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`fashion-cnn: internal error: ${errorMessage(e)}\n`);
    if (process.env.FASHION_CNN_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

const isEntry = process.argv[1] && /(cli[\\/]main\.(ts|js)|fashion-cnn(\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`fashion-cnn: ${errorMessage(e)}\n`);
      process.exit(1);
    },
  );
}
