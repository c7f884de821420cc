/**
 * The server's access rules (src/serve/access.ts) and its messages (errors.ts), without a server:
 * which Host headers name it, which requests are cross-origin, the token check, the settings it
 * refuses at start, the login URL, and paths kept out of what clients read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessNotes, checkAccessSettings, crossOriginRefusal, hostRefusal, isLoopback, serverNames, tokenRefusal } from '../../src/serve/access.js';
import { clientMessage, clientValue } from '../../src/serve/errors.js';
import { resolveServeConfig } from '../../src/serve/config.js';
import { UserError } from '../../src/util/errors.js';

const loopback = { host: '127.0.0.1', allowHosts: [] as string[], token: 't', readOnly: false };

test('Host: loopback names and addresses in any spelling, --host and --allow-host names; nothing else', () => {
  const names = serverNames({ ...loopback, allowHosts: ['Fashion.LAN'] });
  for (const host of ['localhost', 'LOCALHOST:8080', 'localhost.', '127.0.0.1:80', '127.1.2.3', '[::1]:8080', '[::ffff:127.0.0.1]', 'fashion.lan', 'FASHION.lan.:9']) assert.equal(hostRefusal(host, names), null, host);
  for (const host of ['evil.example', 'evil.example:8080', 'localhost.evil.example', '127.0.0.1.nip.io', '192.168.1.5', '[::2]', 'fashion.lan.evil', '']) assert.match(hostRefusal(host, names) ?? '', /^refused: /, host);
  assert.match(hostRefusal(undefined, names) ?? '', /no Host header/);
  // Bound to a given address, the server answers to it; bound to every interface, to the machine's addresses.
  assert.equal(hostRefusal('10.1.2.3:8080', serverNames({ ...loopback, host: '10.1.2.3' })), null);
  assert.ok(serverNames({ ...loopback, host: '0.0.0.0' }).size > serverNames(loopback).size);
});

test('isLoopback: 127.0.0.0/8, ::1 and localhost only', () => {
  for (const h of ['127.0.0.1', '127.255.0.9', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.org', 'localhost.example.org']) assert.equal(isLoopback(h), false, h);
});

test('cross-origin: an Origin other than the Host, or null, or Sec-Fetch-Site cross-site/same-site without Origin', () => {
  const host = '127.0.0.1:8080';
  assert.equal(crossOriginRefusal({ host, origin: 'http://127.0.0.1:8080' }), null);
  assert.equal(crossOriginRefusal({ host: '127.0.0.1', origin: 'http://127.0.0.1:80' }), null, 'the default port, written or not');
  assert.equal(crossOriginRefusal({ host }), null, 'no Origin, no Sec-Fetch-Site: not a browser');
  assert.equal(crossOriginRefusal({ host, 'sec-fetch-site': 'same-origin' }), null);
  assert.equal(crossOriginRefusal({ host, 'sec-fetch-site': 'none' }), null, 'typed in the address bar');
  for (const origin of ['http://evil.example', 'http://127.0.0.1:3000', 'http://localhost:8080', 'null', 'garbage']) assert.match(crossOriginRefusal({ host, origin }) ?? '', /cross-origin/, origin);
  for (const site of ['cross-site', 'same-site']) assert.match(crossOriginRefusal({ host, 'sec-fetch-site': site }) ?? '', /cross-origin/, site);
});

test('token: Bearer, the exact token; an empty token turns the check off', () => {
  assert.equal(tokenRefusal('Bearer s3cret', 's3cret'), null);
  assert.equal(tokenRefusal('bearer s3cret', 's3cret'), null, 'the scheme in any case');
  assert.match(tokenRefusal(undefined, 's3cret') ?? '', /needs the server's token/);
  assert.match(tokenRefusal('Basic czNjcmV0', 's3cret') ?? '', /not "Bearer TOKEN"/);
  for (const wrong of ['Bearer s3cre', 'Bearer s3cret2', 'Bearer S3CRET']) assert.match(tokenRefusal(wrong, 's3cret') ?? '', /wrong token/, wrong);
  assert.equal(tokenRefusal(undefined, ''), null);
});

test('settings refused at start: an empty token beyond loopback (unless read-only), a token with a space, an --allow-host that is not a name', () => {
  assert.throws(() => checkAccessSettings({ ...loopback, host: '0.0.0.0', token: '' }), (e) => e instanceof UserError && /empty token/.test(e.message));
  assert.throws(() => checkAccessSettings({ ...loopback, host: 'my-laptop', token: '' }), UserError, 'a name other than localhost counts as beyond loopback');
  checkAccessSettings({ ...loopback, token: '' });
  checkAccessSettings({ ...loopback, host: '0.0.0.0', token: '', readOnly: true });
  assert.throws(() => checkAccessSettings({ ...loopback, token: 'a b' }), /printable ASCII/);
  for (const bad of ['http://x', 'x:8080', 'x/y', '*', '']) assert.throws(() => checkAccessSettings({ ...loopback, allowHosts: [bad] }), /--allow-host/, bad);
  checkAccessSettings({ ...loopback, allowHosts: ['fashion.lan', '10.0.0.7', '[fd00::1]', 'my_box'] });
});

test('the token: --token, else $FASHION_CNN_TOKEN (empty counts as unset), else a new random one each start', () => {
  const saved = process.env.FASHION_CNN_TOKEN;
  try {
    delete process.env.FASHION_CNN_TOKEN;
    const [a, b] = [resolveServeConfig().token, resolveServeConfig().token];
    assert.match(a, /^[\w-]{32}$/);
    assert.notEqual(a, b);
    process.env.FASHION_CNN_TOKEN = 'from-env';
    assert.equal(resolveServeConfig().token, 'from-env');
    assert.equal(resolveServeConfig({ token: 'from-flag' }).token, 'from-flag');
    assert.equal(resolveServeConfig({ token: '' }).token, '');
    process.env.FASHION_CNN_TOKEN = '';
    assert.match(resolveServeConfig().token, /^[\w-]{32}$/);
  } finally {
    if (saved === undefined) delete process.env.FASHION_CNN_TOKEN;
    else process.env.FASHION_CNN_TOKEN = saved;
  }
});

test('at start: the login URL carries the token; warnings beyond loopback, for an empty token, read-only', () => {
  const plain = accessNotes(loopback, 'http://127.0.0.1:8080');
  assert.equal(plain.loginUrl, 'http://127.0.0.1:8080/?token=t');
  assert.deepEqual(plain.warnings, []);
  const open = accessNotes({ ...loopback, host: '0.0.0.0', allowHosts: ['fashion.lan'] }, 'http://127.0.0.1:8080');
  assert.match(open.warnings.join('\n'), /^warning: --host 0\.0\.0\.0 binds beyond loopback: .*unencrypted.*fashion\.lan/);
  assert.equal(accessNotes({ ...loopback, token: '' }, 'http://127.0.0.1:8080').loginUrl, null);
  assert.match(accessNotes({ ...loopback, token: '' }, 'http://127.0.0.1:8080').warnings.join(), /token is empty/);
  assert.deepEqual(accessNotes({ ...loopback, readOnly: true }, 'http://127.0.0.1:8080'), { loginUrl: null, warnings: ['read-only: no training routes'] });
});

test('messages: run paths relative to the runs folder, however it was given; other absolute paths by their last name; URLs and routes kept', () => {
  assert.equal(clientMessage('run directory /srv/x/runs/nope does not exist', '/srv/x/runs'), 'run directory nope does not exist');
  assert.equal(clientMessage('run directory runs/nope does not exist', 'a/../runs'), 'run directory nope does not exist');
  assert.equal(clientMessage('run directory /srv/runs/nope does not exist', '/srv/a/../runs/'), 'run directory nope does not exist');
  assert.equal(clientMessage('put it in /home/me/.cache/fashion-cnn/weights, or pass --weights', 'runs'), 'put it in …/weights, or pass --weights');
  assert.equal(clientMessage("ENOENT: open '/etc/x/secret.json'.", 'runs'), "ENOENT: open '…/secret.json'.");
  assert.equal(clientMessage('--data-dir /tmp/abc/no-data: no such directory', 'runs'), '--data-dir …/no-data: no such directory');
  assert.equal(clientMessage('downloading https://storage.googleapis.com/a/b.h5 failed', 'runs'), 'downloading https://storage.googleapis.com/a/b.h5 failed');
  assert.equal(clientMessage('use /api/runs/{id}/predict', 'runs'), 'use /api/runs/{id}/predict');
  assert.equal(clientMessage("'runs/a' and my-runs/b", 'runs'), "'a' and my-runs/b", 'the runs folder only where a path starts');
  assert.equal(clientMessage('a\nb', 'runs'), 'a\\nb');
  assert.deepEqual(clientValue({ type: 'done', result: { runDir: '/srv/runs/r1', seconds: 3, files: ['/srv/runs/r1/a.png', '/tmp/x/b.png'] } }, '/srv/runs'), { type: 'done', result: { runDir: 'r1', seconds: 3, files: ['r1/a.png', '…/b.png'] } });
});
