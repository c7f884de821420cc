/* global process, console */
// Builds the native (oneDNN) kernel addon during `npm install`.
//
// This script never fails the install: fashion-cnn works without the addon (on the wasm backend),
// so any failure prints one line saying why the native backend is unavailable, keeps the full
// compiler output in native/build/build.log, and exits 0.
// Set FASHION_CNN_SKIP_NATIVE=1 to skip the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const logFile = path.join(here, 'build', 'build.log');
const addonFile = path.join(here, 'build', 'Release', 'fashion_cnn_native.node');

function unavailable(reason) {
  console.log(`fashion-cnn: native backend unavailable (${reason}); the wasm backend will be used`);
  process.exit(0);
}

/** node-gyp from our devDependencies, else the copy npm ships and names in the install environment. */
function findNodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const fromNpm = process.env.npm_config_node_gyp;
    return fromNpm && existsSync(fromNpm) ? fromNpm : null;
  }
}

/** Headers shipped with this Node (<prefix>/include/node), so that node-gyp needs no download. */
function nodeHeadersDir() {
  const prefix = path.dirname(path.dirname(process.execPath));
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

function explain(output) {
  if (/dnnl\.hpp|oneapi\/dnnl.*No such file/.test(output)) return 'oneDNN headers not found: install libdnnl-dev';
  if (/cannot find -ldnnl/.test(output)) return 'oneDNN library not found: install libdnnl-dev';
  if (/(g\+\+|c\+\+|cc|make)'?: (command )?not found|No such file or directory: '[^']*(g\+\+|c\+\+|cc|clang\+\+)'|not found: make|Could not find any Python/i.test(output))
    return 'no C++ toolchain: install g++, make and python3';
  if (/omp\.h/.test(output)) return 'OpenMP headers not found';
  return `native build failed, see ${path.relative(process.cwd(), logFile)}`;
}

if (process.env.FASHION_CNN_SKIP_NATIVE === '1') unavailable('FASHION_CNN_SKIP_NATIVE=1');

const nodeGyp = findNodeGyp();
if (!nodeGyp) unavailable('node-gyp not found');

const args = [nodeGyp, 'rebuild', '--jobs', 'max'];
const headers = nodeHeadersDir();
if (headers) args.push(`--nodedir=${headers}`);
const result = spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`;
mkdirSync(path.dirname(logFile), { recursive: true });
writeFileSync(logFile, output);
if (result.status !== 0 || !existsSync(addonFile)) unavailable(explain(output));

// The addon links libdnnl at load time: check that it loads here, in a child process so that a
// crash cannot take the install down.
const probe = spawnSync(
  process.execPath,
  ['-e', `const a = require(${JSON.stringify(addonFile)}); const i = a.info(); console.log(i.dnnl + ' ' + i.isa)`],
  { encoding: 'utf8' },
);
if (probe.status !== 0) {
  const firstLine = (probe.stderr || '').split('\n').find((l) => /Error/.test(l)) ?? 'it does not load';
  unavailable(`built but cannot load: ${firstLine.trim()}`);
}
console.log(`fashion-cnn: native backend built (oneDNN ${probe.stdout.trim()})`);
