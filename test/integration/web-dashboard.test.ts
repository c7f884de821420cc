/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core, headless), clicked
 * through as a user would: runs and their curves, the confusion matrix, the projector with a hover,
 * a photo classified, a tiny training run whose curve grows live. Screenshots are saved to
 * dist/test-artifacts/web/ to be looked at. Skips, saying why, where chromium is not installed
 * (.ci/run installs it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { accessNotes, buildServer, type ServeApp } from '../../src/serve/index.js';
import { CLASS_NAMES } from '../../src/data/types.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { simplePhoto } from '../helpers/predict-fixtures.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const WEB_BUILD = path.join(REPO_ROOT, 'dist', 'web', 'index.html');
const skip = !CHROMIUM ? 'chromium is not installed (apt-get install -y chromium; .ci/run does)' : !existsSync(WEB_BUILD) ? 'the dashboard is not built (npm run build)' : false;
const SHOTS = path.join(REPO_ROOT, 'dist', 'test-artifacts', 'web');

let dir = '';
let server: ServeApp;
let base = '';
let browser: Browser;
let page: Page;

describe('dashboard in chromium', { skip }, () => {
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'web-dashboard-'));
    const runs = path.join(dir, 'runs');
    const r = await runCli(['train', '--model', 'cnn1', '--limit', '600', '--epochs', '2', '--aug-epochs', '0', '--run-dir', path.join(runs, 'tiny')]);
    assert.equal(r.code, 0, r.stderr);
    const all = await runCli(['train', '--model', 'cnn1', '--limit', '600', '--epochs', '2', '--aug-epochs', '0', '--val-split', '0', '--run-dir', path.join(runs, 'tiny-all')]);
    assert.equal(all.code, 0, all.stderr);
    server = await buildServer({ runsDir: runs, defaultModelDir: path.join(runs, 'tiny') });
    base = await server.app.listen({ port: 0, host: '127.0.0.1' });
    await fs.mkdir(SHOTS, { recursive: true });
    // SwiftShader gives headless chromium WebGL without a GPU.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
  });

  after(async () => {
    await browser?.close();
    await server?.shutdown();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  /** Pixels of a canvas close to an RGB colour (the chart's series colours). */
  const colouredPixels = (selector: string, rgb: [number, number, number]) =>
    page.$eval(
      selector,
      (canvas, [r, g, b]) => {
        const c = canvas as HTMLCanvasElement;
        const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 40) n++;
        return n;
      },
      rgb,
    );

  test('logging in through the URL serve prints: the token leaves the address bar, the train form no longer asks for it', async () => {
    await page.goto(`${base}/#/runs`);
    await page.waitForSelector('#train-login');
    assert.match(await page.textContent('#train-login') ?? '', /needs the server's token: open the dashboard through the URL/);
    const { loginUrl } = accessNotes(server.config, base);
    assert.ok(loginUrl?.includes(`token=${server.config.token}`));
    await page.goto(`${loginUrl}#/runs`);
    await page.waitForSelector('#train-form');
    assert.equal(await page.locator('#train-login').count(), 0);
    assert.equal(page.url(), `${base}/#/runs`, 'the token is taken out of the address');
  });

  test('runs list, a run\'s curves, the confusion heat map and its images', async () => {
    await page.goto(`${base}/#/runs`);
    await page.waitForSelector('#runs-table a');
    assert.match(await page.textContent('#runs-table') ?? '', /tiny.*cnn1.*693,962/s);
    assert.match(await page.textContent('#runs-table') ?? '', /91\.04%/, "the article's figure beside ours");
    await page.check('input[data-run="tiny"]');
    await page.waitForSelector('#compare-chart canvas');
    await page.screenshot({ path: path.join(SHOTS, 'runs.png'), fullPage: true });

    await page.click('#runs-table a:text-is("tiny")');
    await page.waitForSelector('#acc-chart canvas');
    await page.waitForSelector('#confusion td');
    // Both curves are drawn: blue (train) and red (validation) pixels on the accuracy canvas.
    assert.ok((await colouredPixels('#acc-chart canvas', [0x4e, 0x79, 0xa7])) > 20, 'train curve drawn');
    assert.ok((await colouredPixels('#acc-chart canvas', [0xe1, 0x57, 0x59])) > 20, 'validation curve drawn');
    assert.equal(await page.locator('#confusion td').count(), 100);
    assert.equal(await page.locator('#per-class tr').count(), 11);
    await page.click('#confusion td[data-true="0"][data-pred="0"]');
    await page.waitForFunction(() => (document.querySelector('#cell-images img') as HTMLImageElement | null)?.naturalWidth ?? 0 > 0);
    assert.match(await page.textContent('#cell-info') ?? '', /T-shirt\/top predicted as T-shirt\/top/);
    await page.waitForFunction(() => [...document.querySelectorAll('#run-eval img')].every((i) => (i as HTMLImageElement).complete));
    await page.screenshot({ path: path.join(SHOTS, 'run.png'), fullPage: true });
  });

  test('a run without a validation split: no validation curve or legend entry, and the compare chart says it left the run out', async () => {
    await page.goto(`${base}/#/runs`);
    await page.waitForSelector('#runs-table a');
    await page.check('input[data-run="tiny"]');
    await page.check('input[data-run="tiny-all"]');
    await page.waitForFunction(() => /tiny-all/.test(document.querySelector('#compare-not-drawn')?.textContent ?? ''));
    assert.match(await page.textContent('#compare-not-drawn') ?? '', /Not drawn: tiny-all \(no validation split/);
    assert.doesNotMatch(await page.textContent('#compare-chart') ?? '', /tiny-all/, 'no legend entry for a run with nothing to draw');
    await page.uncheck('input[data-run="tiny"]');
    await page.waitForFunction(() => document.querySelector('#compare-chart canvas') === null);

    await page.goto(`${base}/#/run/tiny-all`);
    await page.waitForSelector('#acc-chart canvas');
    assert.match(await page.textContent('#run-status') ?? '', /no validation split/);
    assert.ok((await colouredPixels('#acc-chart canvas', [0x4e, 0x79, 0xa7])) > 20, 'train curve drawn');
    assert.equal(await colouredPixels('#acc-chart canvas', [0xe1, 0x57, 0x59]), 0, 'no validation curve');
    assert.doesNotMatch(await page.textContent('#acc-chart') ?? '', /validation/);
    assert.doesNotMatch(await page.textContent('#loss-chart') ?? '', /validation/);
  });

  test('projector: points drawn with WebGL, a hover shows the thumbnail and class', async () => {
    await page.goto(`${base}/#/projector/tiny`);
    await page.waitForSelector('#projector-form input[name=count]');
    await page.fill('#projector-form input[name=count]', '400');
    await page.click('#projector-form button');
    await page.waitForSelector('#scatter[data-points="400"][data-sprite="loaded"] canvas', { timeout: 120_000 });
    const box = (await page.locator('#scatter canvas').boundingBox())!;
    let label: string | null = null;
    // Sweeps the mouse over the canvas until a point is under it.
    for (let y = 0.2; y < 0.8 && !label; y += 0.02) {
      for (let x = 0.2; x < 0.8 && !label; x += 0.02) {
        await page.mouse.move(box.x + box.width * x, box.y + box.height * y);
        if (await page.isVisible('#tooltip')) label = await page.textContent('#tooltip-label');
      }
    }
    assert.ok(label, 'a hover found a point');
    assert.ok(CLASS_NAMES.some((n) => label!.startsWith(n)), label);
    assert.match(await page.getAttribute('#tooltip .thumb', 'style') ?? '', /sprite\.png/);
    assert.equal(await page.locator('#downloads a').count(), 5);
    await page.screenshot({ path: path.join(SHOTS, 'projector.png') });
  });

  test('classify: upload a photo, read the label, see the input and the saliency map', async () => {
    await page.goto(`${base}/#/classify`);
    await page.setInputFiles('#photo-input', { name: 'shirt.jpg', mimeType: 'image/jpeg', buffer: await simplePhoto('jpeg', 224, 224) });
    await page.waitForSelector('#predicted-label');
    const label = await page.textContent('#predicted-label');
    assert.ok(CLASS_NAMES.includes(label as (typeof CLASS_NAMES)[number]), String(label));
    assert.equal(await page.locator('.top-row').count(), 3);
    assert.equal(await page.$eval('#model-input', (i) => (i as HTMLImageElement).naturalWidth), 28);
    assert.equal(await page.$eval('#saliency', (i) => (i as HTMLImageElement).naturalWidth), 28);
    await page.screenshot({ path: path.join(SHOTS, 'classify.png') });
    // A file that is not an image gets the server's message, not a broken page.
    await page.setInputFiles('#photo-input', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a picture') });
    await page.waitForSelector('#classify-result .error');
    assert.match(await page.textContent('#classify-result .error') ?? '', /not an image/);
  });

  test('classify in the browser: TF.js loaded on demand gives the server\'s answer without uploading the photo', async () => {
    const requests: string[] = [];
    const record = (r: { method(): string; url(): string }) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`);
    page.on('request', record);
    try {
      await page.goto(`${base}/#/classify`);
      const buffer = await simplePhoto('jpeg', 224, 224);
      const topRows = async () => (await page.locator('.top-label').allTextContents()).map((t) => ({ name: t.replace(/ [\d.]+%$/, ''), prob: Number(/([\d.]+)%$/.exec(t)?.[1]) / 100 }));
      await page.setInputFiles('#photo-input', { name: 'on-server.jpg', mimeType: 'image/jpeg', buffer });
      await page.waitForSelector('#prediction-origin');
      assert.match(await page.textContent('#prediction-origin') ?? '', /on the server/);
      const server = await topRows();
      assert.ok(requests.includes('POST /api/predict'));
      assert.ok(!requests.some((r) => /in-browser|\/model\//.test(r)), `TF.js and the model are not fetched until asked for: ${requests.join(', ')}`);

      requests.length = 0;
      await page.check('#in-browser');
      await page.setInputFiles('#photo-input', { name: 'in-browser.jpg', mimeType: 'image/jpeg', buffer });
      await page.waitForFunction(() => /in this browser/.test(document.querySelector('#prediction-origin')?.textContent ?? ''), null, { timeout: 120_000 });
      const local = await topRows();
      assert.ok(!requests.includes('POST /api/predict'), 'the photo is not uploaded');
      assert.ok(requests.includes('GET /api/model/model.json') && requests.includes('GET /api/model/weights.bin'), requests.join(', '));
      assert.ok(requests.some((r) => /in-browser.*\.js$/.test(r)), 'the TF.js chunk is loaded now');
      assert.equal(local[0].name, server[0].name, `browser ${JSON.stringify(local)} against server ${JSON.stringify(server)}`);
      assert.ok(Math.abs(local[0].prob - server[0].prob) < 0.02, `browser ${JSON.stringify(local)} against server ${JSON.stringify(server)}`);
      for (const id of ['#model-input', '#saliency']) assert.equal(await page.$eval(id, (i) => (i as HTMLImageElement).naturalWidth), 28);
      assert.ok((await page.textContent('#prediction-origin'))?.match(/preprocessing \d+ ms, model \d+ ms/));
      await page.screenshot({ path: path.join(SHOTS, 'classify-in-browser.png') });

      // The browser's refusals are messages too.
      await page.setInputFiles('#photo-input', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a picture') });
      await page.waitForSelector('#classify-result .error');
      assert.match(await page.textContent('#classify-result .error') ?? '', /not an image/);
      await page.uncheck('#in-browser');
    } finally {
      page.off('request', record);
    }
  });

  test('a read-only server: the runs, no train form but a note saying why', async () => {
    const readOnly = await buildServer({ runsDir: server.config.runsDir, defaultModelDir: server.config.defaultModelDir, readOnly: true });
    try {
      const at = await readOnly.app.listen({ port: 0, host: '127.0.0.1' });
      await page.goto(`${at}/#/runs`);
      await page.waitForSelector('#train-off');
      assert.match(await page.textContent('#train-off') ?? '', /read-only/);
      assert.equal(await page.locator('#train-form').count(), 0);
      assert.ok((await page.locator('#runs-table a').count()) >= 2);
    } finally {
      await readOnly.shutdown();
    }
  });

  test('a tiny training run started from the page: the curve grows live', async () => {
    await page.goto(`${base}/#/runs`);
    // Every epoch count the chart shows, sampled in the page: a tiny run can be over before a
    // one-off read from here comes back, so the growth is recorded where it happens.
    await page.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { __epochsSeen: number[] }).__epochsSeen = seen;
      setInterval(() => {
        const n = Number(document.querySelector('#acc-chart')?.getAttribute('data-epochs'));
        if (n > 0 && seen[seen.length - 1] !== n) seen.push(n);
      }, 10);
    });
    await page.waitForSelector('#train-form');
    await page.fill('#train-form input[name=epochs]', '4');
    await page.fill('#train-form input[name=limit]', '1500');
    await page.fill('#train-form input[name=id]', 'web-live');
    await page.click('#train-form button');
    await page.waitForURL(/#\/run\/web-live/);
    await page.waitForFunction(() => Number(document.querySelector('#acc-chart')?.getAttribute('data-epochs')) >= 1, null, { timeout: 120_000 });
    await page.screenshot({ path: path.join(SHOTS, 'training-live.png') });
    // Waits on the sampler's record, not the chart: the chart can reach 4 epochs between two samples.
    await page.waitForFunction(() => (window as unknown as { __epochsSeen: number[] }).__epochsSeen.includes(4), null, { timeout: 120_000 });
    const seen = await page.evaluate(() => (window as unknown as { __epochsSeen: number[] }).__epochsSeen);
    assert.ok(seen.length >= 2 && seen.every((n, i) => i === 0 || n > seen[i - 1]) && seen[seen.length - 1] === 4, `the curve grew live: ${seen.join(' -> ')} epochs`);
    await page.waitForSelector('#run-status:has-text("training done")', { timeout: 120_000 });
    await page.screenshot({ path: path.join(SHOTS, 'training-done.png'), fullPage: true });
  });
});
