import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../helpers/assert-user-error.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  downloadFashionMnist, downloadFile, loadFashionMnist, stderrDownloadProgress,
  type DownloadProgressEvent, type LoadOptions,
} from '../../src/data/index.js';
import { FIXTURE_NAMES, fixtureContents, fixtureMd5, tempDir, type FixtureKey } from '../fixtures/data/idx-fixtures.js';

const contents = fixtureContents(40, 10);
const fixtureSums = fixtureMd5(contents);
const gz = Object.fromEntries(Object.entries(contents).map(([k, v]) => [FIXTURE_NAMES[k as FixtureKey], gzipSync(v)])) as Record<string, Buffer>;
// A valid IDX file whose content differs from the fixture, so only the checksum can catch it.
const tampered = Buffer.from(contents.trainImages);
tampered[100] ^= 0xff;

const requests: string[] = [];
let server: http.Server;
let base = '';

/** A little mirror: /good/ serves the fixtures, the other prefixes each misbehave in one way. */
function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '';
  requests.push(url);
  const [, mode, name] = url.split('/');
  const body = gz[name];
  if (!body || mode === 'missing') {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such file');
    return;
  }
  switch (mode) {
    case 'good':
      res.writeHead(200, { 'Content-Length': body.length }).end(body);
      return;
    case 'redirect':
      res.writeHead(302, { Location: `/good/${name}` }).end();
      return;
    case 'badsum': {
      const b = name === FIXTURE_NAMES.trainImages ? gzipSync(tampered) : body;
      res.writeHead(200, { 'Content-Length': b.length }).end(b);
      return;
    }
    case 'badgzip':
      res.writeHead(200).end(body.subarray(0, body.length - 30));
      return;
    case 'short':
      res.writeHead(200, { 'Content-Length': body.length });
      res.write(body.subarray(0, 100), () => res.socket?.destroy());
      return;
    case 'slow':
      return; // never answers: the client's timeout must fire
    default:
      res.writeHead(500).end();
  }
}

before(async () => {
  server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const root = await tempDir();
after(() => fs.rm(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(root, `d${n++}`);


const listing = async (dir: string) => (await fs.readdir(dir).catch(() => [] as string[])).sort();

test('downloads the four files with progress, verifies them and leaves no temp file', async () => {
  const dir = freshDir();
  const events: DownloadProgressEvent[] = [];
  const out = await downloadFashionMnist(dir, { mirror: `${base}/good`, expectedMd5: fixtureSums, onProgress: (e) => events.push(e) });
  assert.deepEqual(await listing(dir), Object.values(FIXTURE_NAMES).sort());
  for (const key of Object.keys(FIXTURE_NAMES) as FixtureKey[]) {
    assert.equal(out[key]?.md5, fixtureSums[key]);
    assert.deepEqual(await fs.readFile(path.join(dir, FIXTURE_NAMES[key])), gz[FIXTURE_NAMES[key]]);
    const mine = events.filter((e) => e.file === FIXTURE_NAMES[key]);
    const last = mine[mine.length - 1];
    assert.equal(last.done, true);
    assert.equal(last.received, gz[FIXTURE_NAMES[key]].length);
    assert.equal(last.total, gz[FIXTURE_NAMES[key]].length);
    assert.equal(mine[0].received, 0);
    assert.equal(mine[0].url, `${base}/good/${FIXTURE_NAMES[key]}`);
  }
});

test('loadFashionMnist downloads into the cache when nothing is local, then reuses the cache', async () => {
  const cacheDir = freshDir();
  const empty = freshDir();
  await fs.mkdir(empty);
  const opts: LoadOptions = {
    env: { FASHION_MNIST_MIRROR: `${base}/redirect/` },
    cwd: empty,
    systemDir: path.join(empty, 'nowhere'),
    cacheDir,
    expectedMd5: fixtureSums,
    onProgress: null,
  };
  const before = requests.length;
  const first = await loadFashionMnist(opts);
  assert.equal(first.source.kind, 'download');
  assert.equal(first.source.downloaded, true);
  assert.equal(first.source.dir, path.join(cacheDir, 'fashion-mnist'));
  assert.equal(first.train.count, 40);
  assert.equal(first.test.count, 10);
  for (const f of Object.values(first.source.files)) assert.equal(f.verified, true);
  // Redirects are followed: each file is one /redirect/ and one /good/ request.
  assert.equal(requests.length - before, 8);

  const second = await loadFashionMnist(opts);
  assert.equal(second.source.downloaded, false);
  assert.equal(requests.length - before, 8, 'the cache is used, nothing is fetched again');
});

test('the mirror option beats $FASHION_MNIST_MIRROR, and a missing cache file alone is fetched', async () => {
  const cacheDir = freshDir();
  await fs.mkdir(path.join(cacheDir, 'fashion-mnist'), { recursive: true });
  for (const key of ['trainImages', 'trainLabels', 'testImages'] as const) {
    await fs.writeFile(path.join(cacheDir, 'fashion-mnist', FIXTURE_NAMES[key]), gz[FIXTURE_NAMES[key]]);
  }
  const before = requests.length;
  const data = await loadFashionMnist({
    env: { FASHION_MNIST_MIRROR: `${base}/missing` },
    mirror: `${base}/good`,
    cwd: root,
    systemDir: path.join(root, 'nowhere'),
    cacheDir,
    expectedMd5: fixtureSums,
    onProgress: null,
  });
  assert.equal(data.source.downloaded, true);
  assert.deepEqual(requests.slice(before), [`/good/${FIXTURE_NAMES.testLabels}`]);
});

test('a download with the wrong checksum is refused and leaves no file in the cache', async () => {
  const dir = freshDir();
  await rejectsWith(
    downloadFashionMnist(dir, { mirror: `${base}/badsum`, expectedMd5: fixtureSums, onProgress: () => {} }),
    new RegExp(`^train-images-idx3-ubyte\\.gz downloaded from ${base}/badsum/train-images-idx3-ubyte\\.gz: checksum mismatch: .* expected ${fixtureSums.trainImages}; it was not saved$`),
  );
  assert.deepEqual(await listing(dir), []);
});

test('the official checksums are the default, so fixtures from a mirror are refused', async () => {
  const dir = freshDir();
  await rejectsWith(downloadFashionMnist(dir, { mirror: `${base}/good` }), /checksum mismatch: .* expected f4a8712d7a061bf5bd6d2ca38dc4d50a/);
  assert.deepEqual(await listing(dir), []);
  // ... unless verification is off.
  await downloadFashionMnist(dir, { mirror: `${base}/good`, verify: false, keys: ['testLabels'] });
  assert.deepEqual(await listing(dir), [FIXTURE_NAMES.testLabels]);
});

test('loadFashionMnist reports a refused download in one line and keeps the cache empty', async () => {
  const cacheDir = freshDir();
  await rejectsWith(
    loadFashionMnist({ mirror: `${base}/badsum`, cwd: root, env: {}, systemDir: path.join(root, 'nowhere'), cacheDir, expectedMd5: fixtureSums, onProgress: null }),
    /^Fashion-MNIST not found \(looked in .*\) and train-images-idx3-ubyte\.gz downloaded from .*checksum mismatch.* \(use --data-dir or \$FASHION_MNIST_DIR for a local copy\)$/,
  );
  assert.deepEqual(await listing(path.join(cacheDir, 'fashion-mnist')), []);
});

test('corrupt gzip from the mirror is refused and not saved', async () => {
  const dir = freshDir();
  await rejectsWith(
    downloadFile(`${base}/badgzip/${FIXTURE_NAMES.trainImages}`, path.join(dir, FIXTURE_NAMES.trainImages), { expectedMd5: fixtureSums.trainImages }),
    /^train-images-idx3-ubyte\.gz downloaded from .* is not a valid IDX file \(.*corrupt gzip data \(unexpected end of file\)\); it was not saved$/,
  );
  assert.deepEqual(await listing(dir), []);
});

test('HTTP errors, refused connections, early closes and timeouts each give a clear line', async () => {
  const dir = freshDir();
  const dest = path.join(dir, FIXTURE_NAMES.trainLabels);
  await rejectsWith(downloadFile(`${base}/missing/${FIXTURE_NAMES.trainLabels}`, dest), /^download of .*\/missing\/train-labels-idx1-ubyte\.gz failed: HTTP 404 Not Found$/);

  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await rejectsWith(downloadFile(`http://127.0.0.1:${port}/x.gz`, dest), new RegExp(`^download of http://127\\.0\\.0\\.1:${port}/x\\.gz failed: connection refused$`));

  assert.ok(gz[FIXTURE_NAMES.trainImages].length > 100, 'the early close must cut the file');
  await rejectsWith(downloadFile(`${base}/short/${FIXTURE_NAMES.trainImages}`, path.join(dir, FIXTURE_NAMES.trainImages)), /^download of .*\/short\/train-images-idx3-ubyte\.gz failed: (connection reset by the server|connection closed .*)$/);

  const started = Date.now();
  await rejectsWith(downloadFile(`${base}/slow/${FIXTURE_NAMES.trainLabels}`, dest, { timeoutMs: 300 }), /^download of .*\/slow\/train-labels-idx1-ubyte\.gz failed: timed out \(no data for 0\.3 s\)$/);
  assert.ok(Date.now() - started < 5000);

  await rejectsWith(downloadFashionMnist(dir, { mirror: 'ftp://example.org/' }), /^mirror URL "ftp:\/\/example\.org\/" must start with http:\/\/ or https:\/\/$/);
  assert.deepEqual(await listing(dir), []);
});

test('progress on a non-terminal stream is a few plain lines', async () => {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d) => (text += d));
  const progress = stderrDownloadProgress(sink as unknown as NodeJS.WriteStream);
  const dir = freshDir();
  await downloadFashionMnist(dir, { mirror: `${base}/good`, expectedMd5: fixtureSums, onProgress: progress, keys: ['trainImages'] });
  const lines = text.trim().split('\n');
  assert.match(lines[0], new RegExp(`^downloading ${base}/good/train-images-idx3-ubyte\\.gz \\(0\\.\\d MB\\)$`));
  assert.match(lines[lines.length - 1], /^ {2}train-images-idx3-ubyte\.gz: done, 0\.\d MB$/);
  assert.ok(lines.length <= 5, `at most start, three quarters and done: ${text}`);
  assert.ok(!text.includes('\r') && !text.includes('\x1b'), 'no terminal control characters');
});
