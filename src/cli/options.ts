/** Flag parsers shared by every command: each rejects bad input with one clear line. */
import { InvalidArgumentError } from 'commander';
import { BACKEND_NAMES, type BackendName } from '../backend/types.js';

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return Number(value);
}

export function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return Number(value);
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

/** A fraction strictly between 0 and 1. */
export function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError(`expected a number between 0 and 1, got "${value}"`);
  return n;
}

/** A number from 0 to 1 inclusive. */
export function unitInterval(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`expected a number from 0 to 1, got "${value}"`);
  return n;
}

/** A number from 0 (inclusive) to 1 (exclusive): a label smoothing (1 would make every target uniform) or a probability where 0 is off. */
export function zeroToBelowOne(value: string): number {
  const n = unitInterval(value);
  if (n >= 1) throw new InvalidArgumentError(`expected a number below 1, got "${value}"`);
  return n;
}

export function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return Number(value);
}

export function commaList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError(`expected a comma-separated list, got "${value}"`);
  return items;
}

/** A comma-separated list of backend names, each checked. */
export function backendList(value: string): BackendName[] {
  return commaList(value).map((b) => {
    if (!(BACKEND_NAMES as readonly string[]).includes(b)) throw new InvalidArgumentError(`unknown backend "${b}" (choose from ${BACKEND_NAMES.join(', ')})`);
    return b as BackendName;
  });
}
