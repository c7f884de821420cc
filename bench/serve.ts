/**
 * The server under load, on loopback (`npm run bench:serve`; bounded in time):
 *
 *   1. throughput: POST /api/predict with a 224x224 JPEG, 16 connections (target >= 300 req/s, p99 < 100 ms);
 *   2. load: 50 connections posting real photos mixed with 10% malformed uploads (target: no 5xx,
 *      every malformed upload a 4xx, RSS and tensor count flat), while slow clients that never
 *      finish their request must be cut off by the server's request timeout.
 *
 *   node dist/bench/serve.js [--run RUN_DIR] [--photos DIR] [--throughput-seconds 20] [--load-seconds 60] [--json]
 *
 * The server runs as `fashion-cnn serve` in its own process (the client must not share its event
 * loop). Without --run it uses the package's default model, else trains a small cnn1 in a temp folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { PACKAGE_ROOT } from '../src/serve/config.js';

interface BenchConfig {
  throughputSeconds: number;
  throughputConnections: number;
  loadSeconds: number;
  loadConnections: number;
  /** Every n-th upload of the load phase is malformed (10%). */
  malformedEvery: number;
  slowClients: number;
  /** The server's request timeout for this bench, ms (slow clients must be cut off before the load phase ends). */
  requestTimeoutMs: number;
}

const CONFIG: BenchConfig = { throughputSeconds: 20, throughputConnections: 16, loadSeconds: 60, loadConnections: 50, malformedEvery: 10, slowClients: 5, requestTimeoutMs: 15_000 };
const CLI = path.join(PACKAGE_ROOT, 'bin', 'fashion-cnn.js');
const DEV_PHOTOS = path.resolve(PACKAGE_ROOT, '..', 'shared', 'real-photos-dev');

async function photos(dir: string): Promise<Buffer[]> {
  if (!existsSync(dir)) {
    // No dev photos here: synthetic garments on a light page, still real JPEG decoding work.
    return Promise.all([0, 1, 2, 3].map((k) => sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="224" height="224"><rect width="100%" height="100%" fill="#f2efe8"/><rect x="${50 + 10 * k}" y="30" width="${90 - 10 * k}" height="160" rx="12" fill="#283c6e"/></svg>`)).jpeg().toBuffer()));
  }
  const lines = (await fs.readFile(path.join(dir, 'labels.csv'), 'utf8')).trim().split(/\r?\n/).slice(1);
  return Promise.all(lines.map((l) => fs.readFile(path.join(dir, l.split(',')[0]))));
}

/** Uploads that must each get a 4xx: not images, truncated, empty, absurd, wrong type. */
function malformed(good: Buffer): { body: Buffer; type: string }[] {
  const pngHeaderHuge = Buffer.from('89504e470d0a1a0a0000000d49484452000186a0000186a00802000000', 'hex');
  return [
    { body: Buffer.from('this is not a picture'), type: 'image/jpeg' },
    { body: good.subarray(0, Math.floor(good.length / 3)), type: 'image/jpeg' },
    { body: Buffer.alloc(0), type: 'image/png' },
    { body: pngHeaderHuge, type: 'image/png' },
    { body: Buffer.from('{"image": 1}'), type: 'application/json' },
    { body: Buffer.from(good.toString('base64')), type: 'text/plain' },
  ];
}

async function startServer(runDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--runs', path.dirname(runDir), '--default-model', runDir, '--request-timeout', String(CONFIG.requestTimeoutMs / 1000)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${stderr}`)));
  });
  return { child, url };
}

async function health(url: string): Promise<{ rss: number; tensors: number }> {
  return (await (await fetch(`${url}/healthz`)).json()) as { rss: number; tensors: number };
}

/** A client that sends its headers a byte at a time and never finishes: the server must hang up. */
function slowClient(url: URL): Promise<number> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(url.port), url.hostname);
    const request = `POST /api/predict HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n`;
    let i = 0;
    const timer = setInterval(() => socket.write(request[i++ % request.length]), 1000);
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    });
  });
}

async function tinyRun(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-serve-'));
  const runDir = path.join(dir, 'cnn1');
  process.stderr.write('training a small cnn1 for the bench (--run to use another)...\n');
  await new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, 'train', '--model', 'cnn1', '--limit', '6000', '--epochs', '3', '--aug-epochs', '0', '--no-pictures', '--run-dir', runDir], { stdio: 'inherit' });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`train exited ${code}`))));
  });
  return runDir;
}

const ms = (v: number) => `${v.toFixed(1)} ms`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { run: { type: 'string' }, photos: { type: 'string' }, 'throughput-seconds': { type: 'string' }, 'load-seconds': { type: 'string' }, json: { type: 'boolean' } } });
  const cfg = { ...CONFIG, ...(values['throughput-seconds'] ? { throughputSeconds: Number(values['throughput-seconds']) } : {}), ...(values['load-seconds'] ? { loadSeconds: Number(values['load-seconds']) } : {}) };
  const defaultModel = path.join(PACKAGE_ROOT, 'models', 'default');
  const runDir = values.run ?? (existsSync(path.join(defaultModel, 'config.json')) ? defaultModel : await tinyRun());
  const good = await photos(values.photos ?? DEV_PHOTOS);
  const jpeg224 = good.find((b) => b[0] === 0xff) ?? good[0];
  const bad = malformed(jpeg224);
  const { child, url } = await startServer(runDir);
  const exited = new Promise((r) => child.on('exit', r));
  try {
    // Warm-up: the model loads on the first request.
    for (let i = 0; i < 20; i++) await fetch(`${url}/api/predict`, { method: 'POST', body: new Uint8Array(good[i % good.length]), headers: { 'content-type': 'image/jpeg' } });

    const t = await autocannon({ url: `${url}/api/predict`, method: 'POST', connections: cfg.throughputConnections, duration: cfg.throughputSeconds, headers: { 'content-type': 'image/jpeg' }, body: jpeg224 });
    const throughput = { requestsPerSecond: t.requests.average, p50: t.latency.p50, p99: t.latency.p99, non2xx: t.non2xx, errors: t.errors, timeouts: t.timeouts, requests: t.requests.total };

    const before = await health(url);
    const counts = { good: 0, bad: 0, bad4xx: 0, badOther: [] as number[], fiveXx: 0, goodNon200: [] as number[] };
    let n = 0;
    const slow = Array.from({ length: cfg.slowClients }, () => slowClient(new URL(url)));
    const samples: { t: number; rss: number; tensors: number }[] = [];
    const start = Date.now();
    const sampler = setInterval(() => void health(url).then((h) => samples.push({ t: (Date.now() - start) / 1000, ...h }), () => {}), 5000);
    const l = await autocannon({
      url: `${url}/api/predict`,
      connections: cfg.loadConnections,
      duration: cfg.loadSeconds,
      timeout: 30,
      requests: [
        {
          method: 'POST',
          setupRequest: (req, context) => {
            const k = n++;
            const isBad = k % cfg.malformedEvery === cfg.malformedEvery - 1;
            (context as { bad: boolean }).bad = isBad;
            const upload = isBad ? bad[Math.floor(k / cfg.malformedEvery) % bad.length] : { body: good[k % good.length], type: 'image/jpeg' };
            return { ...req, body: upload.body, headers: { ...req.headers, 'content-type': upload.type } };
          },
          onResponse: (status, _body, context) => {
            if (status >= 500) counts.fiveXx++;
            if ((context as { bad: boolean }).bad) {
              counts.bad++;
              if (status >= 400 && status < 500) counts.bad4xx++;
              else counts.badOther.push(status);
            } else {
              counts.good++;
              if (status !== 200 && counts.goodNon200.length < 20) counts.goodNon200.push(status);
            }
          },
        },
      ],
    });
    clearInterval(sampler);
    const after = await health(url);
    const slowClosedMs = await Promise.race([Promise.all(slow), new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    const load = {
      seconds: cfg.loadSeconds,
      connections: cfg.loadConnections,
      requests: l.requests.total,
      requestsPerSecond: l.requests.average,
      p50: l.latency.p50,
      p99: l.latency.p99,
      ...counts,
      errors: l.errors,
      timeouts: l.timeouts,
      rss: { before: before.rss, after: after.rss, samples: samples.map((s) => s.rss) },
      tensors: { before: before.tensors, after: after.tensors, samples: samples.map((s) => s.tensors) },
      slowClientsClosedAfterMs: slowClosedMs,
    };
    const result = { runDir, photos: good.length, throughput, load };
    if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
      console.log(`throughput: ${throughput.requestsPerSecond.toFixed(0)} req/s at ${cfg.throughputConnections} connections, p50 ${ms(throughput.p50)}, p99 ${ms(throughput.p99)} (${throughput.requests} requests, ${throughput.non2xx} non-2xx, ${throughput.errors} errors)`);
      console.log(`load: ${load.requests} requests in ${cfg.loadSeconds} s at ${cfg.loadConnections} connections (${load.requestsPerSecond.toFixed(0)} req/s), p50 ${ms(load.p50)}, p99 ${ms(load.p99)}`);
      console.log(`  malformed: ${load.bad}, of which 4xx ${load.bad4xx}${load.badOther.length ? ` (others: ${[...new Set(load.badOther)].join(', ')})` : ''}; 5xx: ${load.fiveXx}; good uploads not 200: ${load.goodNon200.length ? load.goodNon200.join(', ') : 'none'}; errors ${load.errors}, timeouts ${load.timeouts}`);
      console.log(`  RSS ${mb(before.rss)} -> ${mb(after.rss)} (samples: ${samples.map((s) => mb(s.rss)).join(', ')}); tensors ${before.tensors} -> ${after.tensors}`);
      console.log(`  slow clients cut off after: ${slowClosedMs ? slowClosedMs.map((v) => `${(v / 1000).toFixed(0)} s`).join(', ') : 'NOT closed'}`);
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:serve: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
