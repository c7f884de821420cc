/** makeDirs: `mkdir -p` that always ends (Node 20's recursive mkdir loops forever under /proc). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeDirs } from '../../src/util/atomic.js';

test('makeDirs makes nested folders, accepts existing ones (and links to them), refuses a file in the way', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'fcnn-mkdirs-'));
  await makeDirs(path.join(root, 'a', 'b', 'c'));
  assert.ok(statSync(path.join(root, 'a', 'b', 'c')).isDirectory());
  await makeDirs(path.join(root, 'a', 'b'));
  symlinkSync(path.join(root, 'a'), path.join(root, 'link'));
  await makeDirs(path.join(root, 'link'));
  await makeDirs(path.join(root, 'link', 'd'));
  assert.ok(statSync(path.join(root, 'a', 'd')).isDirectory());
  writeFileSync(path.join(root, 'file'), 'x');
  await assert.rejects(makeDirs(path.join(root, 'file')), { code: 'EEXIST' });
  await assert.rejects(makeDirs(path.join(root, 'file', 'sub')), { code: 'ENOTDIR' });
});

test('makeDirs fails (instead of looping) where the kernel refuses a folder whose parent exists', { skip: process.platform !== 'linux', timeout: 10_000 }, async () => {
  await assert.rejects(makeDirs('/proc/fashion-cnn-nowhere/sub'), { code: 'ENOENT' });
});
