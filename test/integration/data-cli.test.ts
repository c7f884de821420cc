import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { writeFixtureDir, tempDir } from '../fixtures/data/idx-fixtures.js';

const SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';
const hasSystemData = existsSync(path.join(SYSTEM_DIR, 'train-images-idx3-ubyte.gz'));

const root = await tempDir();
after(() => fs.rm(root, { recursive: true, force: true }));
const fixtures = path.join(root, 'fixtures');
await writeFixtureDir(fixtures, { trainCount: 30, testCount: 10 });
// Keep the caller's settings from steering the lookup.
const env = { FASHION_MNIST_DIR: '', FASHION_MNIST_MIRROR: 'http://127.0.0.1:9/', FASHION_CNN_CACHE: path.join(root, 'cache') };

test('data --json on the real data: one JSON document, verified checksums, 6000/1000 per class', { skip: hasSystemData ? false : `${SYSTEM_DIR} is absent (install the Debian package dataset-fashion-mnist)` }, async () => {
  const r = await runCli(['data', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout); // throws if anything else is on stdout
  // ./data/fashion-mnist wins if a developer keeps a copy there; otherwise the system folder.
  assert.ok(['local', 'system'].includes(doc.source.kind), doc.source.kind);
  assert.equal(doc.train.count, 60000);
  assert.equal(doc.test.count, 10000);
  assert.deepEqual(doc.train.perClass, new Array(10).fill(6000));
  assert.deepEqual(doc.test.perClass, new Array(10).fill(1000));
  assert.equal(doc.classes[6], 'Shirt');
  for (const key of ['trainImages', 'trainLabels', 'testImages', 'testLabels']) {
    assert.equal(doc.files[key].verified, true, key);
    assert.match(doc.files[key].md5, /^[0-9a-f]{32}$/);
  }
  assert.equal(doc.files.trainImages.md5, 'f4a8712d7a061bf5bd6d2ca38dc4d50a');
  assert.match(doc.backend, /^(native|wasm|cpu)/);
});

test('data --data-dir with non-official files: refused in one line, shown with --no-verify', async () => {
  const refused = await runCli(['data', '--data-dir', fixtures], { env });
  assert.notEqual(refused.code, 0);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /^fashion-cnn: train-images-idx3-ubyte\.gz: checksum mismatch: .* use --no-verify to load it anyway\n$/);

  const shown = await runCli(['data', '--data-dir', fixtures, '--no-verify'], { env });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^Fashion-MNIST found via --data-dir: ${fixtures.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
  assert.match(shown.stdout, /MD5 not verified \(--no-verify\), differs from the official one/);
  assert.match(shown.stdout, /^ {2}total\s+30\s+10$/m);
  assert.match(shown.stdout, /^backend: /m);
});

test('data --json with --no-verify reports unverified files; a missing --data-dir fails in one line', async () => {
  const r = await runCli(['data', '--data-dir', fixtures, '--no-verify', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.source.kind, 'flag');
  assert.equal(doc.source.dir, fixtures);
  assert.equal(doc.files.testLabels.verified, false);
  assert.equal(doc.train.perClass.reduce((a: number, b: number) => a + b, 0), 30);

  const missing = await runCli(['data', '--data-dir', path.join(root, 'nowhere'), '--json'], { env });
  assert.notEqual(missing.code, 0);
  assert.equal(missing.stdout, '');
  assert.match(missing.stderr, /^fashion-cnn: --data-dir .*nowhere: no such directory\n$/);
});
