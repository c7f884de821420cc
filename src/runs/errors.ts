/**
 * Typed errors of the run store. Each names the run directory or file it is about, so a command
 * can print one line, and any caller can tell the cases apart by class.
 */
import { UserError } from '../util/errors.js';

/** The run directory itself is missing or is not a directory. */
export class RunNotFoundError extends UserError {
  constructor(readonly runDir: string, detail = 'does not exist') {
    super(`run directory ${runDir} ${detail}`);
    this.name = 'RunNotFoundError';
  }
}

/** A file the operation needs is not in the run directory. */
export class RunFileMissingError extends UserError {
  constructor(readonly file: string, detail?: string) {
    super(`${file} does not exist${detail ? ` (${detail})` : ''}`);
    this.name = 'RunFileMissingError';
  }
}

/**
 * A run file exists but cannot be read as what it should be. `message` replaces the default
 * "<file> is damaged: <detail>" when a lower layer already wrote one naming the file.
 */
export class RunFileCorruptError extends UserError {
  constructor(readonly file: string, detail: string, message?: string) {
    super(message ?? `${file} is damaged: ${detail}`);
    this.name = 'RunFileCorruptError';
  }
}

/** The run holds something other than what the operation was asked for (model, shapes). */
export class RunMismatchError extends UserError {
  constructor(readonly runDir: string, detail: string) {
    super(`${runDir}: ${detail}`);
    this.name = 'RunMismatchError';
  }
}

/** A directory that already holds a run, where a new run was to start. */
export class RunExistsError extends UserError {
  constructor(readonly runDir: string) {
    super(`${runDir} already holds a run; pass --resume to continue it or choose another --run-dir`);
    this.name = 'RunExistsError';
  }
}
