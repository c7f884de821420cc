import assert from 'node:assert/strict';
import { UserError } from '../../src/util/errors.js';

/** Asserts that `p` rejects with a one-line UserError whose message matches `re`. */
export async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), 'the message is one line');
    return true;
  });
}
