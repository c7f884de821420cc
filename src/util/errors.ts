/**
 * An error caused by the user's input (a flag, a file, an upload). The CLI prints its message as
 * one line and exits non-zero. Anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A message as one line: control characters (a newline in a file name, say) shown escaped. */
export function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}
