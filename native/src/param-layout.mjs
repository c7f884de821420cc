/* global process, console */
// Turns param-layout.json (where each native kernel finds its arguments in the parameter block)
// into the C++ header the kernels include and the TypeScript module the native backend imports.
//
//   node param-layout.mjs header <file>   C++ header (binding.gyp runs this on every build)
//   node param-layout.mjs ts <file>       src/backend/native/param-layout.ts (committed)
//   node param-layout.mjs fingerprint     the layout's fingerprint
// A file of "-" writes to standard output. The layout is checked first: every slot inside the
// block, no two slots of a family overlapping, names that are identifiers in both languages.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const LAYOUT_FILE = path.join(here, 'param-layout.json');

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9]*$/;

function fail(message) {
  throw new Error(`param-layout.json: ${message}`);
}

/** The layout's meaning (no docs), in a fixed form: what the fingerprint is computed from. */
function essence(layout) {
  const families = {};
  for (const [name, f] of Object.entries(layout.families)) families[name] = { functions: f.functions, slots: f.slots };
  return { blockSize: layout.blockSize, structs: layout.structs, codes: layout.codes, families };
}

export function fingerprint(layout) {
  return createHash('sha256').update(JSON.stringify(essence(layout))).digest('hex').slice(0, 16);
}

/** Each slot as { name, at, length, struct?, array?, code? }, after checking the layout. */
export function resolve(layout) {
  const { blockSize, structs, codes, families } = layout;
  if (!Number.isInteger(blockSize) || blockSize <= 0) fail('blockSize must be a positive integer');
  if (!codes || typeof codes !== 'object') fail('codes must be an object of code lists');
  for (const [name, list] of Object.entries(codes)) {
    if (!IDENTIFIER.test(name)) fail(`code list name "${name}" is not an identifier`);
    if (!Array.isArray(list) || list.length === 0) fail(`code list ${name} is empty`);
    if (new Set(list).size !== list.length) fail(`code list ${name} repeats a name`);
    for (const c of list) if (typeof c !== 'string' || !IDENTIFIER.test(c)) fail(`code list ${name}: "${c}" is not an identifier`);
  }
  for (const [name, fields] of Object.entries(structs)) {
    if (!IDENTIFIER.test(name)) fail(`struct name "${name}" is not an identifier`);
    if (!Array.isArray(fields) || fields.length === 0) fail(`struct ${name} has no fields`);
    if (new Set(fields).size !== fields.length) fail(`struct ${name} repeats a field`);
    for (const f of fields) if (!IDENTIFIER.test(f)) fail(`struct ${name}: field "${f}" is not an identifier`);
  }
  const functions = new Set();
  const resolved = {};
  for (const [family, { functions: fns, slots }] of Object.entries(families)) {
    if (!IDENTIFIER.test(family)) fail(`family name "${family}" is not an identifier`);
    if (!Array.isArray(fns) || fns.length === 0) fail(`family ${family} names no addon function`);
    for (const fn of fns) {
      if (!IDENTIFIER.test(fn)) fail(`family ${family}: function "${fn}" is not an identifier`);
      if (functions.has(fn)) fail(`function ${fn} is in two families`);
      functions.add(fn);
    }
    const list = [];
    for (const [name, spec] of Object.entries(slots)) {
      if (!IDENTIFIER.test(name)) fail(`${family}.${name}: not an identifier`);
      let slot;
      if (typeof spec === 'number') slot = { name, at: spec, length: 1 };
      else if (spec && typeof spec.struct === 'string') {
        if (!structs[spec.struct]) fail(`${family}.${name}: unknown struct ${spec.struct}`);
        slot = { name, at: spec.at, length: structs[spec.struct].length, struct: spec.struct };
      } else if (spec && typeof spec.code === 'string') {
        if (!codes[spec.code]) fail(`${family}.${name}: unknown code list ${spec.code}`);
        slot = { name, at: spec.at, length: 1, code: spec.code };
      } else if (spec && Number.isInteger(spec.length) && spec.length > 0) slot = { name, at: spec.at, length: spec.length, array: true };
      else fail(`${family}.${name}: a slot is a number, { at, length }, { at, struct } or { at, code }`);
      if (!Number.isInteger(slot.at) || slot.at < 0 || slot.at + slot.length > blockSize) fail(`${family}.${name}: outside the block (0..${blockSize - 1})`);
      for (const other of list) {
        if (slot.at < other.at + other.length && other.at < slot.at + slot.length) fail(`${family}: ${name} overlaps ${other.name}`);
      }
      list.push(slot);
    }
    resolved[family] = list;
  }
  return resolved;
}

export function readLayout(file = LAYOUT_FILE) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** convGeometry -> CONV_GEOMETRY */
const macroName = (name) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

export function header(layout) {
  const slots = resolve(layout);
  const out = [
    '// Generated by native/src/param-layout.mjs from native/src/param-layout.json: do not edit.',
    '// Where each kernel finds its arguments in the parameter block (see param-layout.json).',
    '#pragma once',
    '',
    'namespace fcnn {',
    'namespace slots {',
    '',
    `constexpr int kBlockSize = ${layout.blockSize};`,
    `constexpr const char kFingerprint[] = "${fingerprint(layout)}";`,
    '',
    '}  // namespace slots',
    '',
    '// Operation codes: a code is its name\'s index in the list. kName names the list in messages.',
    'namespace codes {',
  ];
  for (const [name, list] of Object.entries(layout.codes)) {
    out.push(`struct ${name} {`);
    out.push(`  enum : int { ${list.map((c, i) => `${c} = ${i}`).join(', ')} };`);
    out.push(`  static constexpr int kCount = ${list.length};`);
    out.push(`  static constexpr const char* kName = "${name}";`);
    out.push('};');
  }
  out.push('}  // namespace codes', '', 'namespace slots {', '');
  for (const [name, fields] of Object.entries(layout.structs)) {
    out.push(`// Struct ${name}: offsets of its fields from the struct's slot, and the fields as an X-macro list.`);
    out.push(`namespace ${name} {`);
    fields.forEach((f, i) => out.push(`constexpr int ${f} = ${i};`));
    out.push(`constexpr int kCount = ${fields.length};`);
    out.push(`}  // namespace ${name}`);
    out.push(`#define FCNN_${macroName(name)}_FIELDS(X) ${fields.map((f) => `X(${f})`).join(' ')}`);
    out.push('');
  }
  for (const [family, list] of Object.entries(slots)) {
    out.push(`// ${layout.families[family].functions.join(', ')}`);
    out.push(`namespace ${family} {`);
    for (const s of list) {
      out.push(`constexpr int ${s.name} = ${s.at};${s.struct ? `  // struct ${s.struct}` : ''}`);
      if (s.array) out.push(`constexpr int ${s.name}Length = ${s.length};`);
      if (s.code) out.push(`using ${s.name}Code = codes::${s.code};  // read with read_code<${s.name}Code>(${s.name})`);
    }
    out.push(`}  // namespace ${family}`);
    out.push('');
  }
  out.push('}  // namespace slots');
  out.push('}  // namespace fcnn');
  return `${out.join('\n')}\n`;
}

export function typescript(layout) {
  const slots = resolve(layout);
  const obj = (entries) => `{ ${entries.map(([k, v]) => `${k}: ${v}`).join(', ')} }`;
  const out = [
    '// Generated by native/src/param-layout.mjs from native/src/param-layout.json: do not edit.',
    '// Regenerate: node native/src/param-layout.mjs ts src/backend/native/param-layout.ts',
    '',
    '/** Length of the parameter block, in doubles. */',
    `export const PARAM_BLOCK_SIZE = ${layout.blockSize};`,
    '',
    '/** Fingerprint of the layout; the addon reports the one it was compiled with. */',
    `export const PARAM_LAYOUT_FINGERPRINT = '${fingerprint(layout)}';`,
    '',
    "/** Offsets of each struct's fields from the struct's slot. */",
    'export const STRUCTS = {',
    ...Object.entries(layout.structs).map(([name, fields]) => `  ${name}: ${obj(fields.map((f, i) => [f, i]))},`),
    '} as const;',
    '',
    '/** The slot of each kernel argument, by family. An array or struct slot is its first element. */',
    'export const SLOTS = {',
    ...Object.entries(slots).map(([family, list]) => `  ${family}: ${obj(list.map((s) => [s.name, s.at]))},`),
    '} as const;',
    '',
    '/** Length of each array slot. */',
    'export const ARRAY_LENGTHS = {',
    ...Object.entries(slots)
      .filter(([, list]) => list.some((s) => s.array))
      .map(([family, list]) => `  ${family}: ${obj(list.filter((s) => s.array).map((s) => [s.name, s.length]))},`),
    '} as const;',
    '',
    '/** The addon functions that read their arguments from the block. */',
    'export const KERNEL_FUNCTIONS = [',
    ...Object.values(layout.families).map((f) => `  ${f.functions.map((fn) => `'${fn}'`).join(', ')},`),
    '] as const;',
    '',
    "/** Operation codes: each name's code (its index in the layout's list). */",
    'export const CODES = {',
    ...Object.entries(layout.codes).map(([name, list]) => `  ${name}: ${obj(list.map((c, i) => [c, i]))},`),
    '} as const;',
    '',
    '/**',
    ' * Each family\'s slots as the arguments of a call see them (a struct slot takes the struct\'s',
    ' * fields, a code slot one of its list\'s codes), and `extent`: the slots it spans, from 0.',
    ' */',
    'export const FAMILIES = {',
    ...Object.entries(slots).map(([family, list]) => {
      const spec = (s) => obj([['at', s.at], ...(s.struct ? [['struct', `'${s.struct}'`]] : []), ...(s.code ? [['code', `'${s.code}'`]] : []), ...(s.array ? [['length', s.length]] : [])]);
      const extent = Math.max(...list.map((s) => s.at + s.length));
      return `  ${family}: { extent: ${extent}, slots: ${obj(list.map((s) => [s.name, spec(s)]))} },`;
    }),
    '} as const;',
    '',
    '/** The family (the layout) of each addon kernel function. */',
    'export const KERNEL_FAMILY = {',
    ...Object.entries(layout.families).flatMap(([family, f]) => f.functions.map((fn) => `  ${fn}: '${family}',`)),
    '} as const;',
    '',
    'export type StructName = keyof typeof STRUCTS;',
    'export type CodeList = keyof typeof CODES;',
    'export type Family = keyof typeof FAMILIES;',
    'export type KernelFunction = keyof typeof KERNEL_FAMILY;',
    '/** A struct\'s values: every field. */',
    'export type StructArgs<S extends StructName> = { readonly [F in keyof (typeof STRUCTS)[S]]: number };',
    '/** One of a code list\'s codes. */',
    'export type Code<C extends CodeList> = (typeof CODES)[C][keyof (typeof CODES)[C]];',
    'type SlotValue<T> = T extends { struct: infer S extends StructName }',
    '  ? StructArgs<S>',
    '  : T extends { code: infer C extends CodeList }',
    '    ? Code<C>',
    '    : T extends { length: number }',
    '      ? readonly number[]',
    '      : number;',
    '/** The arguments of a call of one family\'s kernels, by slot name. */',
    'export type FamilyArgs<F extends Family> = { readonly [K in keyof (typeof FAMILIES)[F][\'slots\']]?: SlotValue<(typeof FAMILIES)[F][\'slots\'][K]> };',
    '/** The arguments of a call of kernel function K. */',
    'export type KernelArgs<K extends KernelFunction> = FamilyArgs<(typeof KERNEL_FAMILY)[K]>;',
  ];
  return `${out.join('\n')}\n`;
}

function write(file, text) {
  if (file === '-') {
    process.stdout.write(text);
    return;
  }
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, text);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [what, file = '-'] = process.argv.slice(2);
  try {
    const layout = readLayout();
    if (what === 'header') write(file, header(layout));
    else if (what === 'ts') write(file, typescript(layout));
    else if (what === 'fingerprint') write(file, `${fingerprint(layout)}\n`);
    else throw new Error('usage: node param-layout.mjs header|ts|fingerprint [file]');
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
