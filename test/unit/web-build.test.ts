/**
 * The dashboard's production build (dist/web, made by `npm run build`): what a first visit
 * downloads stays within the budget (1 MB of JavaScript gzipped), and TF.js, needed only to
 * classify in the browser, is a chunk of its own fetched on demand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { REPO_ROOT } from '../helpers/cli.js';

const WEB = path.join(REPO_ROOT, 'dist', 'web');
const skip = existsSync(path.join(WEB, 'index.html')) ? false : 'the dashboard is not built (npm run build)';

/** A kernel name of TF.js core, a string that survives minification. */
const TFJS_MARK = 'Conv2DBackpropFilter';

/** The scripts index.html loads, and the chunks they import statically (transitively). */
async function firstLoadScripts(): Promise<string[]> {
  const html = await fs.readFile(path.join(WEB, 'index.html'), 'utf8');
  const pending = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="\.\/([^"]+\.js)"/g)].map((m) => m[1]);
  const seen = new Set<string>();
  while (pending.length) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = await fs.readFile(path.join(WEB, file), 'utf8');
    // Static imports between chunks: `import{...}from"./x.js"` (dynamic ones are `import("./x.js")`).
    for (const m of code.matchAll(/(?:^|[;}\s])import\s*(?:[^"'()]*?from\s*)?["']\.\/([^"']+\.js)["']/g)) pending.push(path.join(path.dirname(file), m[1]));
  }
  return [...seen];
}

test('the first load is under 1 MB of JavaScript gzipped, and TF.js is not part of it', { skip }, async () => {
  const scripts = await firstLoadScripts();
  assert.ok(scripts.length > 0, 'index.html loads a script');
  let gzipped = 0;
  for (const file of scripts) {
    const code = await fs.readFile(path.join(WEB, file));
    gzipped += gzipSync(code).length;
    assert.ok(!code.includes(TFJS_MARK), `${file} carries TF.js`);
  }
  assert.ok(gzipped < 1_000_000, `${gzipped} bytes gzipped`);
  const assets = await fs.readdir(path.join(WEB, 'assets'));
  const tfjs = assets.filter((f) => f.startsWith('in-browser-') && f.endsWith('.js'));
  assert.equal(tfjs.length, 1, `one in-browser chunk: ${assets.join(', ')}`);
  assert.ok(!scripts.some((s) => s.endsWith(tfjs[0])), 'it is loaded on demand only');
  assert.ok((await fs.readFile(path.join(WEB, 'assets', tfjs[0]))).includes(TFJS_MARK), `${tfjs[0]} is where TF.js went`);
});
