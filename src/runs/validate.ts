/**
 * Checks a record against its schema (records.ts) with Ajv, and turns the first problem into one
 * line that names the field: `missing hyper, augmentation`, `"hyper.epochs" is not a whole number
 * >= 0`, `"results" is not a list`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from 'typebox';
import { RunFileCorruptError } from './errors.js';

// allErrors: a record missing three fields is reported with all three at once.
const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new WeakMap<TSchema, ValidateFunction>();

function validatorOf(schema: TSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, (v = ajv.compile(schema)));
  return v;
}

/** '/results/0/phase' -> ['results', 0, 'phase'] */
const segments = (instancePath: string) => instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));

/** ['results', 0, 'phase'] -> 'results[0].phase' */
const dotted = (path: readonly (string | number)[]) => path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');

interface SchemaNode {
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

/** The first schema along `path` that says what its value must be, with the path down to it. */
function describedAt(root: SchemaNode, path: readonly (string | number)[]): { path: (string | number)[]; description: string } | null {
  let node: SchemaNode | undefined = root;
  for (let i = 0; i < path.length && node; i++) {
    node = typeof path[i] === 'number' ? node.items : node.properties?.[path[i] as string];
    if (node?.description) return { path: path.slice(0, i + 1), description: node.description };
  }
  return null;
}

/** Errors that come from inside one branch of a union say what that branch lacks, not what the value is. */
const outsideUnions = (e: ErrorObject) => !/\/anyOf\/\d/.test(e.schemaPath);

/** One line for the first problem of `value` against `schema`. */
function describe(schema: TSchema, errors: readonly ErrorObject[]): string {
  const errs = errors.filter(outsideUnions);
  const required = errs.filter((e) => e.keyword === 'required');
  if (required.length) {
    const at = required[0].instancePath;
    const missing = required.filter((e) => e.instancePath === at).map((e) => dotted([...segments(at), (e.params as { missingProperty: string }).missingProperty]));
    return `missing ${missing.join(', ')}`;
  }
  const first = errs[0] ?? errors[0];
  const path = segments(first.instancePath);
  const expected = (first.params as { type?: string }).type;
  if (first.keyword === 'type' && path.length === 0) return 'expected a JSON object';
  const described = describedAt(schema as SchemaNode, path);
  if (described) return `"${dotted(described.path)}" is not ${described.description}`;
  if (first.keyword === 'type' && (expected === 'object' || expected === 'array')) return `"${dotted(path)}" is not ${expected === 'object' ? 'an object' : 'a list'}`;
  return path.length ? `"${dotted(path)}" ${first.message ?? 'is not valid'}` : 'expected a JSON object';
}

/** Whether `value` fits `schema` (for a single value's check, with no message). */
export function fits(schema: TSchema, value: unknown): boolean {
  return validatorOf(schema)(value);
}

/** Fails with RunFileCorruptError naming `file` (and the field) unless `value` fits `schema`. */
export function checkRecord<T>(file: string, schema: TSchema, value: unknown): asserts value is T {
  const validate = validatorOf(schema);
  if (!validate(value)) throw new RunFileCorruptError(file, describe(schema, validate.errors ?? []));
}
