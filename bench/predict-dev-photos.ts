/**
 * Accuracy of `predict` on the real-photo dev set (../shared/real-photos-dev: labels.csv with
 * file,label; `myntra_*` are catalogue photos, `cds_*` home photos), per source and overall, with a
 * confusion summary, the preprocessed frames and a contact sheet (photo | what the model saw).
 *
 *   npx tsx bench/predict-dev-photos.ts RUN_DIR [--photos DIR] [--out DIR] [--config JSON] [--mirror average|max|none] [--json]
 *
 * Without RUN_DIR ("-") it only preprocesses and draws the contact sheet.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import { initBackend } from '../src/backend/index.js';
import { CLASS_NAMES } from '../src/data/types.js';
import { loadRunModel } from '../src/runs/index.js';
import { classifyImages, framePng, preprocessImage, savePreprocessed, uniqueStems, type MirrorMode, type PreprocessOverride } from '../src/predict/index.js';

interface Photo {
  file: string;
  label: number;
  source: string;
}

async function readLabels(dir: string): Promise<Photo[]> {
  const lines = (await fs.readFile(path.join(dir, 'labels.csv'), 'utf8')).trim().split(/\r?\n/).slice(1);
  return lines.map((line) => {
    const [file, label] = line.split(',');
    const source = path.basename(file).split('_')[0];
    return { file: path.join(dir, file), label: Number(label), source };
  });
}

interface Outcome {
  photo: Photo;
  frame: Float32Array | null;
  top: number[];
  prob: number;
  error?: string;
}

function accuracyTable(outcomes: Outcome[]) {
  const groups = new Map<string, Outcome[]>([['all', outcomes]]);
  for (const o of outcomes) groups.set(o.photo.source, [...(groups.get(o.photo.source) ?? []), o]);
  return [...groups.entries()].map(([source, os]) => ({
    source,
    n: os.length,
    top1: os.filter((o) => o.top[0] === o.photo.label).length / os.length,
    top3: os.filter((o) => o.top.slice(0, 3).includes(o.photo.label)).length / os.length,
  }));
}

/** Each photo beside its 28x28 frame, captioned with the true and predicted class. */
async function contactSheet(outcomes: Outcome[], file: string): Promise<void> {
  const S = 112;
  const captionH = 16;
  const cols = 6;
  const cellW = 2 * S;
  const cellH = S + captionH;
  const tiles: OverlayOptions[] = [];
  for (const [i, o] of outcomes.entries()) {
    const left = (i % cols) * cellW;
    const top = Math.floor(i / cols) * cellH;
    tiles.push({ input: await sharp(o.photo.file).autoOrient().resize(S, S, { fit: 'contain', background: '#808080' }).png().toBuffer(), left, top });
    if (o.frame) tiles.push({ input: await sharp(await framePng(o.frame, 28)).resize(S, S, { kernel: 'nearest' }).png().toBuffer(), left: left + S, top });
    const predicted = o.top.length ? CLASS_NAMES[o.top[0]] : o.error ? 'error' : '';
    const ok = o.top[0] === o.photo.label;
    const text = `${CLASS_NAMES[o.photo.label]}${predicted ? ` → ${predicted}` : ''}`.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${cellW}" height="${captionH}"><rect width="100%" height="100%" fill="${o.top.length === 0 ? '#333' : ok ? '#1b5e20' : '#8e1b1b'}"/><text x="4" y="12" font-family="sans-serif" font-size="11" fill="#fff">${text}</text></svg>`;
    tiles.push({ input: Buffer.from(svg), left, top: top + S });
  }
  const rows = Math.ceil(outcomes.length / cols);
  await sharp({ create: { width: cols * cellW, height: rows * cellH, channels: 3, background: '#202020' } }).composite(tiles).png().toFile(file);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      photos: { type: 'string', default: path.resolve('../shared/real-photos-dev') },
      out: { type: 'string', default: 'tmp/predict-dev' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      mirror: { type: 'string', default: 'none' },
    },
  });
  const runDir = positionals[0] && positionals[0] !== '-' ? positionals[0] : null;
  const override = values.config ? (JSON.parse(values.config) as PreprocessOverride) : undefined;
  const photos = await readLabels(values.photos!);
  const out = values.out!;
  await fs.mkdir(out, { recursive: true });

  let outcomes: Outcome[];
  const started = Date.now();
  if (runDir) {
    await initBackend();
    const { model, dir } = await loadRunModel(runDir);
    if (!values.json) console.error(`model: ${dir}`);
    const results = await classifyImages(model, photos.map((p) => p.file), { top: 10, preprocess: override, mirror: values.mirror as MirrorMode });
    outcomes = results.map((r, i) =>
      r.ok ? { photo: photos[i], frame: r.pixels, top: r.top.map((c) => c.class), prob: r.top[0].prob } : { photo: photos[i], frame: null, top: [], prob: 0, error: r.error },
    );
  } else {
    outcomes = [];
    for (const photo of photos) {
      const { pixels } = await preprocessImage(photo.file, override);
      outcomes.push({ photo, frame: pixels, top: [], prob: 0 });
    }
  }
  const seconds = (Date.now() - started) / 1000;

  const stems = uniqueStems(photos.map((p) => p.file));
  for (const [i, o] of outcomes.entries()) if (o.frame) await savePreprocessed(path.join(out, 'frames'), stems[i], o.frame, 28);
  await contactSheet(outcomes, path.join(out, 'contact-sheet.png'));
  if (!runDir) {
    console.log(`preprocessed ${photos.length} photos in ${seconds.toFixed(1)} s; contact sheet: ${path.join(out, 'contact-sheet.png')}`);
    return;
  }

  const table = accuracyTable(outcomes);
  const confusions = new Map<string, number>();
  for (const o of outcomes) {
    if (o.top[0] !== o.photo.label && o.top.length) {
      const key = `${CLASS_NAMES[o.photo.label]} -> ${CLASS_NAMES[o.top[0]]}`;
      confusions.set(key, (confusions.get(key) ?? 0) + 1);
    }
  }
  const perClass = CLASS_NAMES.map((name, c) => {
    const os = outcomes.filter((o) => o.photo.label === c);
    return { class: c, name, n: os.length, correct: os.filter((o) => o.top[0] === c).length };
  });
  const mistakes = outcomes
    .filter((o) => o.top[0] !== o.photo.label)
    .map((o) => ({ file: path.basename(o.photo.file), truth: CLASS_NAMES[o.photo.label], predicted: o.top.length ? CLASS_NAMES[o.top[0]] : `error: ${o.error}`, prob: o.prob }));
  const report = { runDir, photos: photos.length, seconds, accuracy: table, perClass, confusions: Object.fromEntries([...confusions].sort((a, b) => b[1] - a[1])), mistakes };
  await fs.writeFile(path.join(out, 'report.json'), JSON.stringify(report, null, 2));
  if (values.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  console.log(`${photos.length} photos, ${seconds.toFixed(1)} s`);
  for (const r of table) console.log(`${r.source.padEnd(8)} n=${String(r.n).padStart(3)}  top-1 ${(r.top1 * 100).toFixed(1).padStart(5)}%  top-3 ${(r.top3 * 100).toFixed(1).padStart(5)}%`);
  console.log('per class (top-1 correct / n): ' + perClass.map((c) => `${c.name} ${c.correct}/${c.n}`).join(', '));
  console.log('confusions (truth -> predicted):');
  for (const [k, n] of [...confusions].sort((a, b) => b[1] - a[1])) console.log(`  ${n} x ${k}`);
  console.log(`frames and contact sheet in ${out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
