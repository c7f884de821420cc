import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../helpers/assert-user-error.js';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { cacheRoot, classCounts, loadFashionMnist, OFFICIAL_MD5, SYSTEM_DATA_DIR, type LoadOptions } from '../../src/data/index.js';
import { FIXTURE_NAMES, fixtureLabel, writeFixtureDir, tempDir } from '../fixtures/data/idx-fixtures.js';

const root = await tempDir();
after(() => fs.rm(root, { recursive: true, force: true }));

/**
 * One folder per lookup step, each holding fixtures with a different train count so a test can
 * tell which one was read. Nothing here touches the real system folder: it is overridden.
 */
const dirs = {
  flag: path.join(root, 'flag'),
  env: path.join(root, 'env'),
  cwd: path.join(root, 'cwd'),
  system: path.join(root, 'system'),
  cache: path.join(root, 'cache'),
};
const local = path.join(dirs.cwd, 'data/fashion-mnist');
const counts = { flag: 11, env: 12, local: 13, system: 14, cache: 15 };
const md5ByCount = new Map<number, Awaited<ReturnType<typeof writeFixtureDir>>>();
for (const [step, dir] of [['flag', dirs.flag], ['env', dirs.env], ['local', local], ['system', dirs.system], ['cache', path.join(dirs.cache, 'fashion-mnist')]] as const) {
  md5ByCount.set(counts[step], await writeFixtureDir(dir, { trainCount: counts[step], testCount: 5 }));
}
await fs.mkdir(path.join(root, 'empty'), { recursive: true });

/** Options with every lookup place pinned to the temp folders; verification off unless a test wants it. */
function opts(extra: Partial<LoadOptions> & { envVars?: NodeJS.ProcessEnv } = {}): LoadOptions {
  const { envVars, ...rest } = extra;
  return { env: envVars ?? {}, cwd: dirs.cwd, systemDir: dirs.system, cacheDir: dirs.cache, allowDownload: false, verify: false, onProgress: null, ...rest };
}


test('lookup order: --data-dir, then $FASHION_MNIST_DIR, then ./data/fashion-mnist, then the system folder, then the cache', async () => {
  const env = { FASHION_MNIST_DIR: dirs.env };
  const byFlag = await loadFashionMnist(opts({ dataDir: dirs.flag, envVars: env }));
  assert.equal(byFlag.source.kind, 'flag');
  assert.equal(byFlag.source.dir, dirs.flag);
  assert.equal(byFlag.train.count, counts.flag);

  const byEnv = await loadFashionMnist(opts({ envVars: env }));
  assert.equal(byEnv.source.kind, 'env');
  assert.equal(byEnv.train.count, counts.env);

  const byLocal = await loadFashionMnist(opts());
  assert.equal(byLocal.source.kind, 'local');
  assert.equal(byLocal.source.dir, local);
  assert.equal(byLocal.train.count, counts.local);

  const bySystem = await loadFashionMnist(opts({ cwd: path.join(root, 'empty') }));
  assert.equal(bySystem.source.kind, 'system');
  assert.equal(bySystem.train.count, counts.system);

  const byCache = await loadFashionMnist(opts({ cwd: path.join(root, 'empty'), systemDir: path.join(root, 'nowhere') }));
  assert.equal(byCache.source.kind, 'download');
  assert.equal(byCache.source.downloaded, false);
  assert.equal(byCache.source.dir, path.join(dirs.cache, 'fashion-mnist'));
  assert.equal(byCache.train.count, counts.cache);
});

test('the cache folder comes from $FASHION_CNN_CACHE, else $XDG_CACHE_HOME/fashion-cnn, else ~/.cache/fashion-cnn', () => {
  assert.equal(cacheRoot({ FASHION_CNN_CACHE: '/x/c', XDG_CACHE_HOME: '/x/xdg' }), '/x/c');
  assert.equal(cacheRoot({ XDG_CACHE_HOME: '/x/xdg' }), '/x/xdg/fashion-cnn');
  assert.equal(cacheRoot({}), path.join(os.homedir(), '.cache', 'fashion-cnn'));
});

test('the cache is found through $FASHION_CNN_CACHE when no cacheDir option is given', async () => {
  const data = await loadFashionMnist(opts({ cacheDir: undefined, cwd: path.join(root, 'empty'), systemDir: path.join(root, 'nowhere'), envVars: { FASHION_CNN_CACHE: dirs.cache } }));
  assert.equal(data.source.kind, 'download');
  assert.equal(data.train.count, counts.cache);
});

test('a --data-dir without the files is an error, never a fall-through', async () => {
  const env = { FASHION_MNIST_DIR: dirs.env };
  await rejectsWith(loadFashionMnist(opts({ dataDir: path.join(root, 'nowhere'), envVars: env })), /^--data-dir .*nowhere: no such directory$/);
  await rejectsWith(
    loadFashionMnist(opts({ dataDir: path.join(root, 'empty'), envVars: env })),
    /^--data-dir .*empty: missing train-images-idx3-ubyte\.gz, train-labels-idx1-ubyte\.gz, t10k-images-idx3-ubyte\.gz, t10k-labels-idx1-ubyte\.gz/,
  );
});

test('a $FASHION_MNIST_DIR without the files is an error too', async () => {
  await rejectsWith(loadFashionMnist(opts({ envVars: { FASHION_MNIST_DIR: path.join(root, 'empty') } })), /^\$FASHION_MNIST_DIR .*empty: missing /);
});

test('an incomplete implicit folder is skipped for the next place', async () => {
  const partialCwd = path.join(root, 'partial-cwd');
  await writeFixtureDir(path.join(partialCwd, 'data/fashion-mnist'), { only: ['trainImages', 'trainLabels', 'testImages'] });
  const data = await loadFashionMnist(opts({ cwd: partialCwd }));
  assert.equal(data.source.kind, 'system');
});

test('plain IDX files (names without .gz) are accepted', async () => {
  const plain = path.join(root, 'plain');
  const md5 = await writeFixtureDir(plain, { gzip: false, trainCount: 7, testCount: 3 });
  const data = await loadFashionMnist(opts({ dataDir: plain, verify: true, expectedMd5: md5 }));
  assert.equal(data.train.count, 7);
  assert.equal(data.source.files.trainImages.path, path.join(plain, 'train-images-idx3-ubyte'));
  assert.equal(data.source.files.trainImages.verified, true);
});

test('nothing found and downloading off: one line naming where it looked', async () => {
  await rejectsWith(
    loadFashionMnist(opts({ cwd: path.join(root, 'empty'), systemDir: path.join(root, 'nowhere'), cacheDir: path.join(root, 'no-cache') })),
    /^Fashion-MNIST not found \(looked in .*empty.*nowhere.*no-cache.*\) and downloading is off/,
  );
});

test('checksums: a mismatch with the official MD5 is refused, accepted with verify:false', async () => {
  await rejectsWith(
    loadFashionMnist(opts({ dataDir: dirs.flag, verify: true })),
    new RegExp(`^train-images-idx3-ubyte\\.gz: checksum mismatch: MD5 of the uncompressed content is ${md5ByCount.get(counts.flag)!.trainImages}, expected ${OFFICIAL_MD5.trainImages} \\(the train images\\); use --no-verify`),
  );
  const loaded = await loadFashionMnist(opts({ dataDir: dirs.flag, verify: false }));
  assert.equal(loaded.source.files.trainImages.verified, false);
  assert.equal(loaded.source.files.trainImages.md5, md5ByCount.get(counts.flag)!.trainImages);
  assert.equal(loaded.source.files.trainImages.expectedMd5, OFFICIAL_MD5.trainImages);
});

test('checksums: the expected values can be supplied, and then verify', async () => {
  const data = await loadFashionMnist(opts({ dataDir: dirs.flag, verify: true, expectedMd5: md5ByCount.get(counts.flag) }));
  for (const f of Object.values(data.source.files)) assert.equal(f.verified, true);
  assert.deepEqual([...data.train.labels], Array.from({ length: counts.flag }, (_, i) => fixtureLabel(i)));
  assert.equal(data.test.count, 5);
});

test('a data folder whose image and label counts differ is refused', async () => {
  const bad = path.join(root, 'mismatch');
  await writeFixtureDir(bad, { trainCount: 9 });
  await writeFixtureDir(path.join(root, 'mismatch-other'), { trainCount: 8, only: ['trainLabels'] });
  await fs.copyFile(path.join(root, 'mismatch-other', FIXTURE_NAMES.trainLabels), path.join(bad, FIXTURE_NAMES.trainLabels));
  await rejectsWith(loadFashionMnist(opts({ dataDir: bad })), /^train-images-idx3-ubyte\.gz has 9 images but train-labels-idx1-ubyte\.gz has 8 labels$/);
});

const hasSystemData = existsSync(path.join(SYSTEM_DATA_DIR, FIXTURE_NAMES.trainImages));
test('the real data set loads, verifies, and is fast', { skip: hasSystemData ? false : `${SYSTEM_DATA_DIR} is absent (install the Debian package dataset-fashion-mnist)` }, async (t) => {
  const started = performance.now();
  const data = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, allowDownload: false });
  const seconds = (performance.now() - started) / 1000;
  t.diagnostic(`loaded the four real files (gunzip + validate + MD5) in ${seconds.toFixed(2)} s`);
  assert.equal(data.train.count, 60000);
  assert.equal(data.test.count, 10000);
  assert.equal(data.train.images.length, 60000 * 784);
  for (const f of Object.values(data.source.files)) assert.equal(f.verified, true);
  assert.deepEqual(classCounts(data.train.labels), new Array(10).fill(6000));
  assert.deepEqual(classCounts(data.test.labels), new Array(10).fill(1000));
  // The official test order starts Ankle boot, Pullover, Trouser, Trouser, Shirt.
  assert.deepEqual([...data.test.labels.subarray(0, 5)], [9, 2, 1, 1, 6]);
  // Generous bound: the target is well under 2 s, but the test machine may be shared.
  assert.ok(seconds < 8, `loading took ${seconds.toFixed(2)} s`);
});
