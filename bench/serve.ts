/**
 * The server under load, on loopback (`npm run bench:serve`; bounded in time):
 *
 *   1. throughput: POST /api/predict with one 224x224 JPEG, 16 connections (target >= 300 req/s, p99 < 100 ms);
 *      then the same with ?saliency=false (no backward pass), what a back end that wants only the classes gets;
 *   2. load: 50 connections posting the real dev photos mixed with 10% malformed uploads (target:
 *      no 5xx, every malformed upload a 4xx, RSS and tensor count flat), while slow clients that
 *      never finish their request (headers, or body) must be cut off by the server's request timeout.
 *
 *   node dist/bench/serve.js [--seconds 60 | --short] [--throughput-seconds S] [--run RUN_DIR] [--photos DIR] [--out FILE] [--json]
 *
 * --seconds sets the load phase (default 60) and the throughput phase (a third of it, at least 5 s);
 * --short is --seconds 15. The figures are written as JSON to --out (default
 * runs/bench/serve-<time>.json) and printed as a table (or as the JSON with --json). RSS and the
 * TF.js tensor count are sampled every second through /healthz. The photos are read at run time
 * from ../shared/real-photos-dev (never copied into the repository); without them, synthetic
 * garments. The server runs as `fashion-cnn serve` in its own process (the client must not share
 * its event loop). Without --run it uses the package's default model, else trains a small cnn1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
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
  /** Slow clients of each kind (never-ending headers; never-ending body). */
  slowClients: number;
  /** The server's request timeout for this bench, s (slow clients must be cut off before the load phase ends). */
  requestTimeoutSeconds: number;
  /** The server's upload limit for this bench, MB (uploads over it are sent alongside the load). */
  maxUploadMb: number;
}

const CLI = path.join(PACKAGE_ROOT, 'bin', 'fashion-cnn.js');
const DEV_PHOTOS = path.resolve(PACKAGE_ROOT, '..', 'shared', 'real-photos-dev');
const SAMPLE_MS = 1000;

async function photos(dir: string): Promise<Buffer[]> {
  if (!existsSync(path.join(dir, 'labels.csv'))) {
    process.stderr.write(`bench:serve: no photos in ${dir}; synthetic garments instead\n`);
    return Promise.all([0, 1, 2, 3].map((k) => sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="224" height="224"><rect width="100%" height="100%" fill="#f2efe8"/><rect x="${50 + 10 * k}" y="30" width="${90 - 10 * k}" height="160" rx="12" fill="#283c6e"/></svg>`)).jpeg().toBuffer()));
  }
  const lines = (await fs.readFile(path.join(dir, 'labels.csv'), 'utf8')).trim().split(/\r?\n/).slice(1);
  return Promise.all(lines.map((l) => fs.readFile(path.join(dir, l.split(',')[0]))));
}

/**
 * Uploads that must each get a 4xx: not images, truncated, corrupt, empty, absurd, wrong type. (An
 * upload over the size limit is sent apart, see oversized(): the server answers it 413 without
 * reading it and closes the connection, which autocannon counts as an error and which stalls its
 * connection while it writes the rest.)
 */
function malformed(good: Buffer): { body: Buffer; type: string; kind: string }[] {
  const pngHeaderHuge = Buffer.from('89504e470d0a1a0a0000000d49484452000186a0000186a00802000000', 'hex');
  return [
    { kind: 'text as jpeg', body: Buffer.from('this is not a picture'), type: 'image/jpeg' },
    { kind: 'truncated jpeg', body: good.subarray(0, Math.floor(good.length / 3)), type: 'image/jpeg' },
    { kind: 'empty', body: Buffer.alloc(0), type: 'image/png' },
    { kind: '100000x100000 png header', body: pngHeaderHuge, type: 'image/png' },
    { kind: 'json', body: Buffer.from('{"image": 1}'), type: 'application/json' },
    { kind: 'base64 text', body: Buffer.from(good.toString('base64')), type: 'text/plain' },
    { kind: 'corrupt jpeg', body: Buffer.concat([good.subarray(0, 600), Buffer.alloc(good.length - 600, 0x5a)]), type: 'image/jpeg' },
  ];
}

/** Uploads over the server's limit, one every `everyMs` until stopped: each must get a 413. */
function oversized(url: URL, maxUploadMb: number, everyMs: number) {
  const body = Buffer.alloc(maxUploadMb * 1024 * 1024 + 1024, 0xff);
  const statuses: Record<string, number> = {};
  const pending = new Set<Promise<void>>();
  const send = () => {
    const done = new Promise<void>((resolve) => {
      let answered = false;
      const req = http.request({ host: url.hostname, port: url.port, path: '/api/predict', method: 'POST', headers: { 'content-type': 'image/jpeg', 'content-length': body.length } }, (res) => {
        answered = true;
        statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
        res.resume();
        res.on('end', resolve);
        res.on('error', () => resolve());
      });
      // The server may close the connection while the body is still being written: only a missing answer counts.
      req.on('error', () => {
        if (!answered) statuses['no answer'] = (statuses['no answer'] ?? 0) + 1;
        resolve();
      });
      req.end(body);
    });
    pending.add(done);
    void done.then(() => pending.delete(done));
  };
  const timer = setInterval(send, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...pending]);
      return statuses;
    },
  };
}

async function startServer(runDir: string, cfg: BenchConfig): Promise<{ child: ChildProcess; url: string }> {
  const args = [CLI, 'serve', '--port', '0', '--runs', path.dirname(runDir), '--default-model', runDir, '--request-timeout', String(cfg.requestTimeoutSeconds), '--max-upload-mb', String(cfg.maxUploadMb)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${stderr}`)));
  });
  // Past the start, the server's log is the bench's (internal errors would be there).
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  return { child, url };
}

interface Health {
  rss: number;
  tensors: number;
  batches?: { batches: number; frames: number; largest: number };
}

async function health(url: string): Promise<Health> {
  return (await (await fetch(`${url}/healthz`)).json()) as Health;
}

/** CPU time of a process so far, ms (Linux /proc; null elsewhere). */
function cpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

const loadAverage = () => os.loadavg().map((v) => Number(v.toFixed(2)));

/** RSS and tensor count every second while a phase runs. */
function sampler(url: string) {
  const samples: { t: number; rss: number; tensors: number }[] = [];
  const start = Date.now();
  const timer = setInterval(() => void health(url).then((h) => samples.push({ t: (Date.now() - start) / 1000, rss: h.rss, tensors: h.tensors }), () => {}), SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      const summary = (key: 'rss' | 'tensors') => {
        const values = samples.map((s) => s[key]);
        return values.length ? { first: values[0], last: values.at(-1)!, max: Math.max(...values), min: Math.min(...values), samples: values.length } : null;
      };
      return { rss: summary('rss'), tensors: summary('tensors'), samples };
    },
  };
}

/** A client that sends its request a byte at a time and never finishes: the server must hang up. */
function slowClient(url: URL, kind: 'headers' | 'body'): Promise<{ kind: string; closedAfterMs: number; status: number | null }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(url.port), url.hostname);
    const head = `POST /api/predict HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n`;
    let i = 0;
    let reply = '';
    if (kind === 'body') socket.write(`${head}\r\n`);
    const trickle = kind === 'headers' ? `${head}X-Never-Ending: ${'x'.repeat(1000)}` : 'y'.repeat(100_000);
    const timer = setInterval(() => socket.write(trickle[i++ % trickle.length]), 1000);
    socket.on('data', (d: Buffer) => (reply += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      const status = /^HTTP\/1\.1 (\d+)/.exec(reply);
      resolve({ kind, closedAfterMs: Date.now() - started, status: status ? Number(status[1]) : null });
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

const positive = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number of seconds, got "${v}"`);
  return n;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      run: { type: 'string' },
      photos: { type: 'string' },
      seconds: { type: 'string' },
      short: { type: 'boolean' },
      'throughput-seconds': { type: 'string' },
      'load-seconds': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const loadSeconds = positive('load-seconds', values['load-seconds']) ?? positive('seconds', values.seconds) ?? (values.short ? 15 : 60);
  const cfg: BenchConfig = {
    throughputSeconds: positive('throughput-seconds', values['throughput-seconds']) ?? Math.max(5, Math.round(loadSeconds / 3)),
    throughputConnections: 16,
    loadSeconds,
    loadConnections: 50,
    malformedEvery: 10,
    slowClients: 2,
    // Slow clients must be cut off inside the load phase: the timeout is at most half of it.
    requestTimeoutSeconds: Math.max(2, Math.min(15, Math.floor(loadSeconds / 2))),
    maxUploadMb: 2,
  };
  const defaultModel = path.join(PACKAGE_ROOT, 'models', 'default');
  const runDir = values.run ?? (existsSync(path.join(defaultModel, 'config.json')) ? defaultModel : await tinyRun());
  const photoDir = values.photos ?? DEV_PHOTOS;
  const good = await photos(photoDir);
  const sizes = await Promise.all(good.map((b) => sharp(b).metadata()));
  const at224 = sizes.findIndex((m) => m.format === 'jpeg' && m.width === 224 && m.height === 224);
  const jpeg224 = good[Math.max(0, at224)];
  const bad = malformed(jpeg224);
  const say = (line: string) => process.stderr.write(`bench:serve: ${line}\n`);
  say(`starting the server (${runDir})`);
  const { child, url } = await startServer(runDir, cfg);
  const exited = new Promise((r) => child.on('exit', r));
  const started = new Date();
  try {
    // Warm-up: the model loads on the first request, the pool's threads compile their code.
    say(`${url}: warm-up, ${2 * good.length} photos one by one`);
    for (let i = 0; i < 2 * good.length; i++) await (await fetch(`${url}/api/predict`, { method: 'POST', body: new Uint8Array(good[i % good.length]), headers: { 'content-type': 'image/jpeg' } })).arrayBuffer();

    // 1. Throughput: one 224x224 JPEG, 16 connections; then the same without the saliency map.
    const measure = async (query: string) => {
      say(`throughput${query}: ${cfg.throughputSeconds} s at ${cfg.throughputConnections} connections`);
      const tLoad = loadAverage();
      const tCpu = cpuMs(child.pid!);
      const tSampler = sampler(url);
      const t = await autocannon({ url: `${url}/api/predict${query}`, method: 'POST', connections: cfg.throughputConnections, duration: cfg.throughputSeconds, headers: { 'content-type': 'image/jpeg' }, body: jpeg224 });
      const tSamples = tSampler.stop();
      const tCpuEnd = cpuMs(child.pid!);
      return {
        query,
        seconds: cfg.throughputSeconds,
        connections: cfg.throughputConnections,
        requests: t.requests.total,
        requestsPerSecond: t.requests.average,
        p50: t.latency.p50,
        p90: t.latency.p90,
        p99: t.latency.p99,
        max: t.latency.max,
        non2xx: t.non2xx,
        errors: t.errors,
        timeouts: t.timeouts,
        serverCpuMsPerRequest: tCpu !== null && tCpuEnd !== null && t.requests.total > 0 ? (tCpuEnd - tCpu) / t.requests.total : null,
        loadAverage: { before: tLoad, after: loadAverage() },
        rss: tSamples.rss,
        tensors: tSamples.tensors,
      };
    };
    const throughput = await measure('');
    const throughputNoSaliency = await measure('?saliency=false');

    // 2. Load: 50 connections, real photos and 10% malformed uploads, slow clients alongside.
    say(`load: ${cfg.loadSeconds} s at ${cfg.loadConnections} connections, ${cfg.slowClients} slow clients`);
    const before = await health(url);
    const counts = { good: 0, goodStatus: {} as Record<string, number>, malformed: 0, malformed4xx: 0, malformedOther: [] as { kind: string; status: number }[], fiveXx: 0, malformedByKind: {} as Record<string, Record<string, number>> };
    let n = 0;
    const slow = Array.from({ length: cfg.slowClients }, (_, i) => slowClient(new URL(url), i % 2 === 0 ? 'headers' : 'body'));
    const tooLarge = oversized(new URL(url), cfg.maxUploadMb, 500);
    const lLoad = loadAverage();
    const lCpu = cpuMs(child.pid!);
    const lSampler = sampler(url);
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
            const upload = isBad ? bad[Math.floor(k / cfg.malformedEvery) % bad.length] : { body: good[k % good.length], type: 'image/jpeg', kind: 'photo' };
            (context as { kind: string | null }).kind = isBad ? upload.kind : null;
            return { ...req, body: upload.body, headers: { ...req.headers, 'content-type': upload.type } };
          },
          onResponse: (status, _body, context) => {
            if (status >= 500) counts.fiveXx++;
            const kind = (context as { kind: string | null }).kind;
            if (kind !== null) {
              counts.malformed++;
              const byKind = (counts.malformedByKind[kind] ??= {});
              byKind[status] = (byKind[status] ?? 0) + 1;
              if (status >= 400 && status < 500) counts.malformed4xx++;
              else if (counts.malformedOther.length < 20) counts.malformedOther.push({ kind, status });
            } else {
              counts.good++;
              counts.goodStatus[status] = (counts.goodStatus[status] ?? 0) + 1;
            }
          },
        },
      ],
    });
    const lSamples = lSampler.stop();
    const oversizedStatuses = await tooLarge.stop();
    const lCpuEnd = cpuMs(child.pid!);
    const after = await health(url);
    const slowResults = await Promise.race([Promise.all(slow), new Promise<null>((r) => setTimeout(() => r(null), (cfg.requestTimeoutSeconds + 5) * 1000))]);
    const load = {
      seconds: cfg.loadSeconds,
      connections: cfg.loadConnections,
      requests: l.requests.total,
      requestsPerSecond: l.requests.average,
      p50: l.latency.p50,
      p90: l.latency.p90,
      p99: l.latency.p99,
      max: l.latency.max,
      ...counts,
      oversized: oversizedStatuses,
      errors: l.errors,
      timeouts: l.timeouts,
      serverCpuMsPerRequest: lCpu !== null && lCpuEnd !== null && l.requests.total > 0 ? (lCpuEnd - lCpu) / l.requests.total : null,
      loadAverage: { before: lLoad, after: loadAverage() },
      rss: { ...lSamples.rss, beforePhase: before.rss, afterPhase: after.rss },
      tensors: { ...lSamples.tensors, beforePhase: before.tensors, afterPhase: after.tensors },
      batches: before.batches && after.batches ? { batches: after.batches.batches - before.batches.batches, frames: after.batches.frames - before.batches.frames, largest: after.batches.largest } : null,
      samples: lSamples.samples,
    };
    const slowClients = { requestTimeoutSeconds: cfg.requestTimeoutSeconds, results: slowResults };
    const result = { startedAt: started.toISOString(), runDir, photos: { dir: photoDir, count: good.length }, cpus: os.availableParallelism(), throughput, throughputNoSaliency, load, slowClients };
    const out = values.out ?? path.join('runs', 'bench', `serve-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    await fs.mkdir(path.dirname(out), { recursive: true });
    await fs.writeFile(out, JSON.stringify(result, null, 2) + '\n');
    if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else printTable(result, out);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

function printTable(r: { throughput: Record<string, unknown>; load: Record<string, unknown> } & Record<string, unknown>, out: string): void {
  const t = r.throughput as { query: string; seconds: number; connections: number; requests: number; requestsPerSecond: number; p50: number; p99: number; non2xx: number; errors: number; serverCpuMsPerRequest: number | null; loadAverage: { before: number[]; after: number[] } };
  const l = r.load as typeof t & {
    fiveXx: number;
    malformed: number;
    malformed4xx: number;
    malformedOther: { kind: string; status: number }[];
    oversized: Record<string, number>;
    good: number;
    goodStatus: Record<string, number>;
    timeouts: number;
    rss: { first: number; last: number; max: number } | null;
    tensors: { first: number; last: number; max: number } | null;
    batches: { batches: number; frames: number; largest: number } | null;
  };
  const s = r.slowClients as { requestTimeoutSeconds: number; results: { kind: string; closedAfterMs: number; status: number | null }[] | null };
  const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const lines = [
    row(['phase', 'req/s', 'p50', 'p99', 'requests', 'errors', 'server CPU/req', 'load average before -> after']),
    row(['---', '---', '---', '---', '---', '---', '---', '---']),
    ...[t, r.throughputNoSaliency as typeof t].map((x) => row([`224x224 JPEG${x.query}, ${x.connections} conn, ${x.seconds} s`, x.requestsPerSecond.toFixed(0), `${x.p50} ms`, `${x.p99} ms`, `${x.requests} (${x.non2xx} non-2xx)`, x.errors, x.serverCpuMsPerRequest ? `${x.serverCpuMsPerRequest.toFixed(1)} ms` : '-', `${x.loadAverage.before.join(' ')} -> ${x.loadAverage.after.join(' ')}`])),
    row([`photos + 10% malformed, ${l.connections} conn, ${l.seconds} s`, l.requestsPerSecond.toFixed(0), `${l.p50} ms`, `${l.p99} ms`, l.requests, `${l.errors} (${l.timeouts} timeouts)`, l.serverCpuMsPerRequest ? `${l.serverCpuMsPerRequest.toFixed(1)} ms` : '-', `${l.loadAverage.before.join(' ')} -> ${l.loadAverage.after.join(' ')}`]),
  ];
  console.log(lines.join('\n'));
  console.log('');
  console.log(`5xx: ${l.fiveXx}; malformed uploads: ${l.malformed}, answered 4xx: ${l.malformed4xx}${l.malformedOther.length ? ` (not 4xx: ${l.malformedOther.map((o) => `${o.kind} ${o.status}`).join(', ')})` : ''}; photos: ${l.good} (${Object.entries(l.goodStatus).map(([k, v]) => `${v}x ${k}`).join(', ')})`);
  console.log(`uploads over the limit (one every 0.5 s alongside): ${Object.entries(l.oversized).map(([k, v]) => `${v}x ${k}`).join(', ') || 'none'}`);
  if (l.rss && l.tensors) console.log(`load phase, sampled every ${SAMPLE_MS / 1000} s: RSS first ${mb(l.rss.first)}, last ${mb(l.rss.last)}, max ${mb(l.rss.max)}; tensors first ${l.tensors.first}, last ${l.tensors.last}, max ${l.tensors.max}`);
  if (l.batches) console.log(`model passes: ${l.batches.batches} for ${l.batches.frames} photos (largest batch ${l.batches.largest})`);
  console.log(`slow clients (request timeout ${s.requestTimeoutSeconds} s): ${s.results ? s.results.map((c) => `${c.kind} cut off after ${(c.closedAfterMs / 1000).toFixed(1)} s (${c.status ?? 'no status'})`).join('; ') : 'NOT all cut off'}`);
  console.log(`figures: ${out}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:serve: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
