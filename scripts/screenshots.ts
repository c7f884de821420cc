/**
 * `npm run screenshots [-- --out web/screenshots]`: the README's pictures of the dashboard, taken
 * in Debian's chromium from a server over real runs: the shipped `best` model (models/default)
 * beside the article protocol's cnn1, cnn3 and cnn4 records (docs/results). The runs are copied
 * into a temporary runs folder first, because the server caches projections inside a run and the
 * committed records must not change. The live-training picture is a short cnn1 run started from
 * the page, as a user would.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { accessNotes, buildServer } from '../src/serve/index.js';

const ROOT = process.cwd();
const { values } = parseArgs({ options: { out: { type: 'string', default: path.join('web', 'screenshots') } } });
const out = path.resolve(values.out!);
const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!CHROMIUM) {
  process.stderr.write('screenshots: chromium is not installed (apt-get install -y chromium, or set CHROMIUM_PATH)\n');
  process.exit(1);
}

/** Run id in the dashboard -> the record it is copied from. */
const RUNS: Record<string, string> = {
  'best-default': path.join(ROOT, 'models', 'default'),
  'cnn1-article': path.join(ROOT, 'docs', 'results', 'cnn1'),
  'cnn3-article': path.join(ROOT, 'docs', 'results', 'cnn3'),
  'cnn4-article': path.join(ROOT, 'docs', 'results', 'cnn4'),
};

/** A photo-like upload: a T-shirt drawn on a light, slightly uneven page, as a JPEG. */
async function tshirtPhoto(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="480" height="480">
    <defs><linearGradient id="page" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#f4f1ea"/><stop offset="1" stop-color="#dcd8cf"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#page)"/>
    <path d="M170 90 L210 80 Q240 110 270 80 L310 90 L390 150 L350 210 L320 190 L320 400 L160 400 L160 190 L130 210 L90 150 Z" fill="#2d4f7c" stroke="#1e3556" stroke-width="4"/>
    <path d="M160 260 L320 260" stroke="#e8e8e8" stroke-width="10"/>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
}

async function whenImagesLoaded(page: Page, selector: string): Promise<void> {
  await page.waitForFunction((s) => [...document.querySelectorAll(`${s} img`)].every((i) => (i as HTMLImageElement).complete), selector);
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fashion-cnn-screens-'));
const runs = path.join(dir, 'runs');
for (const [id, from] of Object.entries(RUNS)) await fs.cp(from, path.join(runs, id), { recursive: true });
await fs.mkdir(out, { recursive: true });
const server = await buildServer({ runsDir: runs, defaultModelDir: path.join(runs, 'best-default') });
const base = await server.app.listen({ port: 0, host: '127.0.0.1' });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // The server computes what it shows on first request (the model over the 10,000 test images, a projection): slow on a busy machine.
  page.setDefaultTimeout(900_000);
  page.on('pageerror', (e) => {
    throw new Error(`page error: ${e.message}`);
  });
  const shot = async (name: string, fullPage = false) => {
    await page.screenshot({ path: path.join(out, name), fullPage });
    process.stderr.write(`  ${path.join(values.out!, name)}\n`);
  };

  // Logged in as `fashion-cnn serve` prints it: the page keeps the token for the training run started below.
  await page.goto(`${accessNotes(server.config, base).loginUrl}#/runs`);
  await page.waitForSelector('#runs-table a');
  for (const id of Object.keys(RUNS)) await page.check(`input[data-run="${id}"]`);
  await page.waitForSelector('#compare-chart canvas');
  await shot('runs.png', true);

  await page.goto(`${base}/#/run/best-default`);
  await page.waitForSelector('#acc-chart canvas');
  await page.waitForSelector('#confusion td');
  // Shirt predicted as T-shirt/top: the model's most common mistake.
  await page.click('#confusion td[data-true="6"][data-pred="0"]', { noWaitAfter: true });
  await page.waitForFunction(() => ((document.querySelector('#cell-images img') as HTMLImageElement | null)?.naturalWidth ?? 0) > 0);
  await whenImagesLoaded(page, '#run-eval');
  await shot('run.png', true);

  await page.goto(`${base}/#/projector/best-default`);
  await page.waitForSelector('#projector-form input[name=count]');
  await page.click('#projector-form button');
  await page.waitForSelector('#scatter[data-sprite="loaded"] canvas');
  const box = (await page.locator('#scatter canvas').boundingBox())!;
  for (let y = 0.3; y < 0.7; y += 0.02) {
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * y);
    if (await page.isVisible('#tooltip')) break;
  }
  await shot('projector.png');

  await page.goto(`${base}/#/classify`);
  await page.setInputFiles('#photo-input', { name: 'tshirt.jpg', mimeType: 'image/jpeg', buffer: await tshirtPhoto() });
  await page.waitForSelector('#predicted-label');
  await shot('classify.png');
  await page.check('#in-browser');
  await page.evaluate(() => document.querySelector('#classify-result')?.replaceChildren());
  await page.setInputFiles('#photo-input', { name: 'tshirt-here.jpg', mimeType: 'image/jpeg', buffer: await tshirtPhoto() });
  await page.waitForFunction(() => /in this browser/.test(document.querySelector('#prediction-origin')?.textContent ?? ''), null, { timeout: 120_000 });
  await shot('classify-in-browser.png');

  await page.goto(`${base}/#/runs`);
  await page.waitForSelector('#train-form');
  await page.fill('#train-form input[name=epochs]', '3');
  await page.fill('#train-form input[name=limit]', '12000');
  await page.fill('#train-form input[name=id]', 'cnn1-live');
  await page.click('#train-form button');
  await page.waitForURL(/#\/run\/cnn1-live/);
  await page.waitForFunction(() => Number(document.querySelector('#acc-chart')?.getAttribute('data-epochs')) >= 2, null);
  await shot('training-live.png');
  await page.waitForSelector('#run-status:has-text("training done")');
} finally {
  await browser.close();
  await server.shutdown();
  await fs.rm(dir, { recursive: true, force: true });
}
