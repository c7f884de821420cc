/** Flags and helpers several commands share. */
import { Option, type Command } from 'commander';
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
