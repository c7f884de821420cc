/** Flags and helpers several commands share. */
import { promises as fs } from 'node:fs';
import { Option, type Command } from 'commander';
import { makeDirs } from '../util/atomic.js';
import { UserError, errorMessage } from '../util/errors.js';
import { BACKEND_NAMES, type BackendName } from '../backend/types.js';

export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--backend <name>', 'where tensors are computed (default: native if built, else wasm; or $FASHION_CNN_BACKEND)').choices([...BACKEND_NAMES]),
  );
}

export function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'folder with the four Fashion-MNIST IDX files (.gz or plain)')
    .option('--no-verify', 'accept data files whose MD5 differs from the official one');
}

export interface CommonFlags {
  backend?: BackendName;
  dataDir?: string;
  verify: boolean;
}

/** Writes one JSON document on stdout (the --json contract: nothing else goes there). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Makes an output folder given by a flag, so that a bad place (a file in the way, a read-only or
 * special file system) fails at once in one line rather than after the work. Returns a function
 * that removes the folder again if this call made it and it is still empty (for a command that
 * fails before writing anything).
 */
export async function prepareOutputFolder(flag: string, dir: string): Promise<() => Promise<void>> {
  const stat = await fs.stat(dir).catch(() => null);
  if (stat && !stat.isDirectory()) throw new UserError(`${flag} ${dir}: exists and is not a folder`);
  await makeDirs(dir).catch((e: unknown) => {
    throw new UserError(`${flag} ${dir}: cannot be made (${errorMessage(e)})`);
  });
  return stat ? async () => {} : () => fs.rmdir(dir).catch(() => {});
}
