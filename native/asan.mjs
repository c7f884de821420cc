/* global process, console */
// `npm run test:asan`: the native kernel tests against an AddressSanitizer build of the addon.
//
// Builds the addon with -fsanitize=address in native/build-asan/ (a copy of binding.gyp and src/,
// so that native/build/ is untouched), then runs the kernel test files (compiled, in dist/test/)
// with the sanitizer's runtime preloaded into node (node itself is not instrumented, and the
// runtime must come first) and $FASHION_CNN_NATIVE_ADDON pointing at that build. Any heap overflow,
// use after free or other error the sanitizer sees in the addon's own memory aborts the test
// process with its report. Leak checking is off: node and V8 keep memory until exit by design.
//
//   node native/asan.mjs [test file ...]    default: the kernel tests listed below
// Needs g++ with libasan (Debian: part of g++). Not part of `npm test`: the build takes a minute
// and the tests run several times slower.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const stage = path.join(here, 'build-asan');
const addonFile = path.join(stage, 'build', 'Release', 'fashion_cnn_native.node');
const require = createRequire(import.meta.url);

/** The kernel tests: each kernel against the cpu backend, fused paths, every model's step, and the seam. */
const DEFAULT_TESTS = [
  'backend-native-seam',
  'backend-native-kernels',
  'backend-native-fusion',
  'backend-native-calls',
  'backend-native-training',
].map((name) => path.join(root, 'dist', 'test', `${name}.test.js`));

function fail(message) {
  console.error(`test:asan: ${message}`);
  process.exit(1);
}

function run(command, args, options) {
  const r = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (r.error) fail(`${command}: ${r.error.message}`);
  return r.status ?? 1;
}

const tests = process.argv.length > 2 ? process.argv.slice(2).map((f) => path.resolve(f)) : DEFAULT_TESTS;
for (const t of tests) if (!existsSync(t)) fail(`${path.relative(root, t)} does not exist (npx tsc -p . builds the tests)`);

const libasan = spawnSync('g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim();
if (!libasan || !path.isAbsolute(libasan) || !existsSync(libasan)) fail('libasan.so not found (g++ -print-file-name=libasan.so)');

// The sanitized build, from a copy of the sources.
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
cpSync(path.join(here, 'binding.gyp'), path.join(stage, 'binding.gyp'));
cpSync(path.join(here, 'src'), path.join(stage, 'src'), { recursive: true });
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const prefix = path.dirname(path.dirname(process.execPath));
const headers = existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
const sanitize = '-fsanitize=address -fno-omit-frame-pointer -g';
console.log(`test:asan: building the addon with ${sanitize} in ${path.relative(root, stage)}/`);
const built = run(process.execPath, [nodeGyp, 'rebuild', '--jobs', 'max', ...headers], {
  cwd: stage,
  env: { ...process.env, CXXFLAGS: sanitize, CFLAGS: sanitize, LDFLAGS: '-fsanitize=address' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (built !== 0 || !existsSync(addonFile)) fail('the sanitized build failed');
const ldd = spawnSync('ldd', [addonFile], { encoding: 'utf8' }).stdout ?? '';
if (!/libasan/.test(ldd)) fail('the build does not link libasan: the flags did not reach the compiler');

const env = {
  ...process.env,
  LD_PRELOAD: libasan,
  // Leaks: off (see above). abort_on_error: a report ends the process, and so fails its test file.
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1',
  FASHION_CNN_NATIVE_ADDON: addonFile,
};
// The tests must load this build, not native/build's.
const probe = spawnSync(process.execPath, ['-e', `import(${JSON.stringify(path.join(root, 'dist', 'src', 'backend', 'native', 'addon.js'))}).then((m) => console.log(m.loadAddon().path))`], { env, encoding: 'utf8' });
if (probe.stdout?.trim() !== addonFile) fail(`the tests would load ${probe.stdout?.trim() || 'nothing'} (${(probe.stderr ?? '').trim().split('\n')[0]}), not ${addonFile}`);

console.log(`test:asan: running ${tests.length} test files with ${path.basename(libasan)} preloaded`);
const status = run(process.execPath, ['--test', '--test-concurrency=1', ...tests], { cwd: root, env });
console.log(status === 0 ? 'test:asan: no error reported' : `test:asan: FAILED (exit ${status})`);
process.exit(status);
