/**
 * The parameter layout (native/src/param-layout.json) is the one place where kernel arguments get
 * their indices: the TypeScript module is generated from it and up to date, both sides use every
 * slot by name and no index by number, and an addon built from another layout is refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadAddon } from '../../src/backend/native/addon.js';
import { CODES, PARAM_LAYOUT_FINGERPRINT, SLOTS, STRUCTS } from '../../src/backend/native/param-layout.js';
import { EXPECTED, preflight } from '../../src/backend/native/preflight.js';
import { fakePreflightSubject } from '../helpers/native.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const nativeSrc = path.join(root, 'native', 'src');
const tsDir = path.join(root, 'src', 'backend', 'native');

interface Layout {
  blockSize: number;
  structs: Record<string, string[]>;
  codes: Record<string, string[]>;
  families: Record<string, { functions: string[]; slots: Record<string, number | { at: number; length?: number; struct?: string; code?: string }> }>;
}

interface Generator {
  readLayout(): Layout;
  fingerprint(layout: Layout): string;
  resolve(layout: Layout): Record<string, { name: string; at: number; length: number }[]>;
  typescript(layout: Layout): string;
}

const generator = (await import(pathToFileURL(path.join(nativeSrc, 'param-layout.mjs')).href)) as Generator;
const layout = generator.readLayout();
const clone = (): Layout => JSON.parse(JSON.stringify(layout)) as Layout;

/** Source files under `dir` (recursively) whose name matches `ext`. */
function sources(dir: string, ext: RegExp): { file: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) return sources(file, ext);
    return e.isFile() && ext.test(e.name) ? [{ file: path.relative(root, file), text: readFileSync(file, 'utf8') }] : [];
  });
}

const cpp = sources(nativeSrc, /\.(cc|h)$/);
const ts = sources(tsDir, /\.ts$/).filter((s) => !s.file.endsWith('param-layout.ts'));

/** The keys of the object literal that starts at text[open] ('{'), shorthand ones included. */
function literalKeys(text: string, open: number): string[] {
  const parts: string[] = [];
  let depth = 0, start = open + 1;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === '{' || ch === '(' || ch === '[') depth++;
    else if (ch === '}' || ch === ')' || ch === ']') {
      depth--;
      if (depth === 0) {
        parts.push(text.slice(start, i));
        break;
      }
    } else if (ch === ',' && depth === 1) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return parts.map((p) => /^\s*(\w+)/.exec(p)?.[1]).filter((k): k is string => k !== undefined);
}

/** The family of each addon kernel function (from the layout). */
const familyOf = new Map(Object.entries(layout.families).flatMap(([family, f]) => f.functions.map((fn) => [fn, family] as const)));

/**
 * Slot names the TypeScript side gives a family's kernels: the keys of `ctx.invoke('<fn>', { ... })`
 * calls, and of the object literal a function declared to return `KernelArgs<'<fn>'>` returns.
 */
function tsWrites(family: string): Set<string> {
  const used = new Set<string>();
  for (const { text } of ts) {
    const literals = [...text.matchAll(/ctx\.invoke\('(\w+)',\s*\{/g), ...text.matchAll(/KernelArgs<'(\w+)'>\s*\{\s*return\s*\{/g)];
    for (const m of literals) {
      if (familyOf.get(m[1]) !== family) continue;
      for (const k of literalKeys(text, m.index + m[0].length - 1)) used.add(k);
    }
  }
  return used;
}

describe('the parameter layout', () => {
  it('src/backend/native/param-layout.ts is what native/src/param-layout.mjs makes of the JSON', () => {
    const generated = spawnSync(process.execPath, [path.join(nativeSrc, 'param-layout.mjs'), 'ts', '-'], { encoding: 'utf8' });
    assert.equal(generated.status, 0, generated.stderr);
    assert.equal(readFileSync(path.join(tsDir, 'param-layout.ts'), 'utf8'), generated.stdout, 'regenerate it: node native/src/param-layout.mjs ts src/backend/native/param-layout.ts');
    assert.equal(generator.fingerprint(layout), PARAM_LAYOUT_FINGERPRINT);
  });

  it('the generator refuses slots that overlap or leave the block', () => {
    const overlap = clone();
    overlap.families.conv.slots.alpha = 21;
    assert.throws(() => generator.resolve(overlap), /conv: alpha overlaps activation/);
    const intoStruct = clone();
    intoStruct.families.maxPool.slots.y = 5;
    assert.throws(() => generator.resolve(intoStruct), /maxPool: geometry overlaps y/);
    const outside = clone();
    outside.families.addN.slots.inputs = { at: 100, length: 200 };
    assert.throws(() => generator.resolve(outside), /addN\.inputs: outside the block/);
    const name = clone();
    name.families.reduce.slots['not-a-name'] = 9;
    assert.throws(() => generator.resolve(name), /not an identifier/);
  });

  it('moving one slot changes the fingerprint, and the preflight then refuses the addon', () => {
    const moved = clone();
    moved.families.conv.slots.scaleShift = 39;
    const other = generator.fingerprint(moved);
    assert.notEqual(other, PARAM_LAYOUT_FINGERPRINT);
    const docOnly = clone() as Layout & { families: Record<string, { doc?: string }> };
    docOnly.families.conv.doc = 'another description';
    assert.equal(generator.fingerprint(docOnly), PARAM_LAYOUT_FINGERPRINT, 'docs are not part of the layout');
    // TypeScript built from the moved layout, the addon from this one; then the other way round.
    assert.match(preflight(fakePreflightSubject(), { ...EXPECTED, layoutFingerprint: other }) ?? '', new RegExp(`built for parameter layout ${PARAM_LAYOUT_FINGERPRINT}, this code expects ${other};`));
    const stale = fakePreflightSubject();
    stale.addon.paramLayout = () => other;
    assert.match(preflight(stale) ?? '', new RegExp(`built for parameter layout ${other}, this code expects ${PARAM_LAYOUT_FINGERPRINT};`));
  });

  it('the built addon reports this layout, and is refused against a moved one', (t) => {
    const loaded = loadAddon();
    if (!loaded.ok) {
      if (process.env.CI) assert.fail(`${loaded.reason} (CI builds the native addon)`);
      t.skip(loaded.reason);
      return;
    }
    const addon = loaded.addon as { paramLayout(): string };
    assert.equal(addon.paramLayout(), PARAM_LAYOUT_FINGERPRINT, 'the addon is built from the current param-layout.json (node native/build.mjs)');
    const subject = { ...fakePreflightSubject(), addon: loaded.addon };
    assert.equal(preflight(subject), null);
    const moved = clone();
    moved.families.matmul.slots.alpha = 13;
    assert.match(preflight(subject, { ...EXPECTED, layoutFingerprint: generator.fingerprint(moved) }) ?? '', /built for parameter layout \w+, this code expects/);
  });

  it('the operation codes come from the layout, are part of its fingerprint, and are written nowhere else', () => {
    const fromJson = Object.fromEntries(Object.entries(layout.codes).map(([list, names]) => [list, Object.fromEntries(names.map((n, i) => [n, i]))]));
    assert.deepEqual(CODES, fromJson);
    const reordered = clone();
    reordered.codes.activation = ['relu', 'linear', ...reordered.codes.activation.slice(2)];
    assert.notEqual(generator.fingerprint(reordered), PARAM_LAYOUT_FINGERPRINT, 'reordering codes changes the fingerprint');
    const added = clone();
    added.codes.unary.push('Sin');
    assert.notEqual(generator.fingerprint(added), PARAM_LAYOUT_FINGERPRINT, 'adding a code changes the fingerprint');
    const twice = clone();
    twice.codes.reduce.push('Sum');
    assert.throws(() => generator.resolve(twice), /code list reduce repeats a name/);
    const unknownList = clone();
    unknownList.families.unary.slots.op = { at: 0, code: 'nonesuch' };
    assert.throws(() => generator.resolve(unknownList), /unary\.op: unknown code list nonesuch/);
    // No hand-written copy of a code: no enum in the C++ kernels, no code number in params.ts.
    for (const { file, text } of cpp) assert.doesNotMatch(text, /\benum\b/, `${file} declares an enum (codes belong in param-layout.json)`);
    const params = ts.find((s) => s.file.endsWith('params.ts'))!;
    assert.doesNotMatch(params.text, /:\s*\d+\s*[,}]/, 'params.ts writes a code by number');
  });

  it('no kernel argument is addressed by a numeric index', () => {
    for (const { file, text } of cpp) {
      const hit = /\bPI?\(\s*\d|::read\(\s*\d|g_params\[\s*\d/.exec(text);
      assert.equal(hit, null, `${file}: ${hit?.[0]}`);
    }
    for (const { file, text } of ts) {
      const hit = /params\[\s*\d|params\.set\([^;]*,\s*\d+\s*\)|ctx\.set\(/.exec(text);
      assert.equal(hit, null, `${file}: ${hit?.[0]}`);
    }
  });

  it('every slot of every family is read by the C++ kernels and written by the TypeScript ones, by name', () => {
    const cppText = cpp.map((s) => s.text).join('\n');
    for (const [family, { slots }] of Object.entries(layout.families)) {
      // C++: from each `namespace arg = slots::<family>;` to the next alias (or the end of the file).
      const read = new Set<string>();
      let scopes = 0;
      for (const { text } of cpp) {
        const aliases = [...text.matchAll(/namespace arg = slots::(\w+);/g)];
        aliases.forEach((m, i) => {
          if (m[1] !== family) return;
          scopes++;
          const scope = text.slice(m.index, aliases[i + 1]?.index ?? text.length);
          for (const [, name] of scope.matchAll(/\barg::(\w+)/g)) {
            // An array slot's length (<slot>Length) and a code slot's list (<slot>Code) count as uses of the slot.
            const base = /^(\w+?)(Length|Code)$/.exec(name)?.[1] ?? null;
            read.add(!(name in slots) && base !== null && base in slots ? base : name);
          }
        });
      }
      assert.ok(scopes > 0, `no C++ kernel reads slots::${family}`);
      const names = Object.keys(slots);
      assert.deepEqual([...read].filter((n) => !names.includes(n)), [], `C++ reads names that are not slots of ${family}`);
      assert.deepEqual(names.filter((n) => !read.has(n)), [], `slots of ${family} that no C++ kernel reads`);
      const written = tsWrites(family);
      assert.deepEqual(names.filter((n) => !written.has(n)), [], `slots of ${family} that the TypeScript kernels never write`);
      assert.deepEqual([...written].filter((n) => !names.includes(n)), [], `TypeScript writes names that are not slots of ${family}`);
    }
    for (const struct of Object.keys(layout.structs)) {
      const macro = `FCNN_${struct.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}_FIELDS(`;
      assert.ok(cppText.includes(macro), `no C++ reads struct ${struct} (${macro})`);
      // StructArgs<'name'> requires every field (a compile error otherwise): a struct is written whole.
      assert.ok(ts.some(({ text }) => text.includes(`StructArgs<'${struct}'>`)), `no TypeScript kernel writes struct ${struct}`);
    }
    assert.deepEqual(Object.keys(SLOTS), Object.keys(layout.families));
    assert.deepEqual(Object.keys(STRUCTS), Object.keys(layout.structs));
  });
});
