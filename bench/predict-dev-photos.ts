/**
 * Accuracy of `predict` on the real-photo dev set (../shared/real-photos-dev: labels.csv with
 * file,label; `myntra_*` are catalogue photos, `cds_*` home photos): top-1 and top-3 per source and
 * overall, a confusion table per source, for one or several preprocessing modes side by side, with
 * the preprocessed frames and a contact sheet (photo | what the model saw) per mode. These photos
 * are for measuring only: never train or tune on them.
 *
 *   npx tsx bench/predict-dev-photos.ts [RUN_DIR | --default] [--preprocess mask,paper,hybrid]
 *        [--photos DIR] [--out DIR] [--config JSON] [--mirror average|max|none] [--markdown FILE] [--json]
 *
 * Without RUN_DIR ("-") it only preprocesses and draws the contact sheets. `--default` uses the
 * default model (models/default, or $FASHION_CNN_DEFAULT_MODEL). `--mirror` defaults to what the
 * run's config.json asks for (hyper.tta).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import { initBackend } from '../src/backend/index.js';
import { CLASS_NAMES } from '../src/data/types.js';
import {
  PREPROCESS_MODES,
  classifyImages,
  framePng,
  loadPredictor,
  mirrorForTta,
  preprocessImage,
  savePreprocessed,
  uniqueStems,
  type MirrorMode,
  type PreprocessMode,
  type PreprocessOverride,
} from '../src/predict/index.js';

/** Photo sources, by file-name prefix. */
const SOURCES: Record<string, string> = { myntra: 'catalogue', cds: 'home' };

interface Photo {
  file: string;
  label: number;
  source: string;
}

async function readLabels(dir: string): Promise<Photo[]> {
  const lines = (await fs.readFile(path.join(dir, 'labels.csv'), 'utf8')).trim().split(/\r?\n/).slice(1);
  return lines.map((line) => {
    const [file, label] = line.split(',');
    const prefix = path.basename(file).split('_')[0];
    return { file: path.join(dir, file), label: Number(label), source: SOURCES[prefix] ?? prefix };
  });
}

interface Outcome {
  photo: Photo;
  frame: Float32Array | null;
  top: number[];
  prob: number;
  error?: string;
}

interface SourceReport {
  source: string;
  n: number;
  top1: number;
  top3: number;
  /** confusion[truth][predicted] (top-1); images that failed are left out. */
  confusion: number[][];
}

interface ModeReport {
  mode: PreprocessMode;
  seconds: number;
  sources: SourceReport[];
  mistakes: { file: string; truth: string; predicted: string; prob: number }[];
}

function sourceReport(source: string, os: Outcome[]): SourceReport {
  const confusion = CLASS_NAMES.map(() => new Array<number>(CLASS_NAMES.length).fill(0));
  for (const o of os) if (o.top.length) confusion[o.photo.label][o.top[0]]++;
  return {
    source,
    n: os.length,
    top1: os.filter((o) => o.top[0] === o.photo.label).length / os.length,
    top3: os.filter((o) => o.top.slice(0, 3).includes(o.photo.label)).length / os.length,
    confusion,
  };
}

function bySource(outcomes: Outcome[]): SourceReport[] {
  const groups = new Map<string, Outcome[]>();
  for (const o of outcomes) groups.set(o.photo.source, [...(groups.get(o.photo.source) ?? []), o]);
  return [...[...groups.entries()].map(([source, os]) => sourceReport(source, os)), sourceReport('all', outcomes)];
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

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The accuracy table (one row per mode) and, per mode and source, the confusion table, as markdown. */
function markdown(reports: ModeReport[], header: string): string {
  const sources = reports[0].sources.map((s) => s.source);
  const out = [header, '', `| preprocessing | ${sources.map((s) => `${s} top-1 | ${s} top-3`).join(' | ')} |`, `|---|${sources.map(() => '---|---').join('|')}|`];
  for (const r of reports) out.push(`| ${r.mode} | ${r.sources.map((s) => `${pct(s.top1)} | ${pct(s.top3)}`).join(' | ')} |`);
  out.push('', `Photos: ${reports[0].sources.map((s) => `${s.source} ${s.n}`).join(', ')}.`);
  for (const r of reports) {
    for (const s of r.sources.filter((x) => x.source !== 'all')) {
      const present = CLASS_NAMES.map((_, c) => c).filter((c) => s.confusion[c].some((v) => v > 0));
      out.push('', `Confusion, ${r.mode}, ${s.source} (rows: truth; columns: predicted top-1):`, '');
      out.push(`| truth \\ predicted | ${CLASS_NAMES.join(' | ')} |`, `|---|${CLASS_NAMES.map(() => '---:').join('|')}|`);
      for (const c of present) out.push(`| ${CLASS_NAMES[c]} | ${s.confusion[c].map((v, p) => (v === 0 ? '' : p === c ? `**${v}**` : String(v))).join(' | ')} |`);
    }
  }
  return out.join('\n') + '\n';
}

function parseModes(list: string): PreprocessMode[] {
  const modes = list.split(',').map((m) => m.trim());
  for (const m of modes) if (!PREPROCESS_MODES.includes(m as PreprocessMode)) throw new Error(`--preprocess: unknown mode "${m}" (one of ${PREPROCESS_MODES.join(', ')})`);
  return modes as PreprocessMode[];
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      photos: { type: 'string', default: path.resolve('../shared/real-photos-dev') },
      out: { type: 'string', default: 'tmp/predict-dev' },
      config: { type: 'string' },
      preprocess: { type: 'string', default: PREPROCESS_MODES.join(',') },
      default: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      mirror: { type: 'string' },
      markdown: { type: 'string' },
    },
  });
  const runDir = positionals[0] && positionals[0] !== '-' ? positionals[0] : undefined;
  const withModel = runDir !== undefined || values.default;
  const modes = parseModes(values.preprocess!);
  const extra = values.config ? (JSON.parse(values.config) as PreprocessOverride) : {};
  const photos = await readLabels(values.photos!);
  const out = values.out!;
  const stems = uniqueStems(photos.map((p) => p.file));

  let predictor: Awaited<ReturnType<typeof loadPredictor>> | null = null;
  if (withModel) {
    await initBackend();
    predictor = await loadPredictor({ runDir });
    if (!values.json) console.error(`model: ${predictor.runDir} (tta ${predictor.tta})`);
  }
  const mirror = (values.mirror ?? (predictor ? mirrorForTta(predictor.tta) : 'none')) as MirrorMode;

  const reports: ModeReport[] = [];
  for (const mode of modes) {
    const override: PreprocessOverride = { ...extra, mode };
    const started = Date.now();
    let outcomes: Outcome[];
    if (predictor) {
      const results = await classifyImages(predictor.model, photos.map((p) => p.file), { top: 10, preprocess: override, mirror });
      outcomes = results.map((r, i) =>
        r.ok ? { photo: photos[i], frame: r.pixels, top: r.top.map((c) => c.class), prob: r.top[0].prob } : { photo: photos[i], frame: null, top: [], prob: 0, error: r.error },
      );
    } else {
      outcomes = [];
      for (const photo of photos) {
        const r = await preprocessImage(photo.file, override).catch((e: unknown) => ({ error: String(e) }));
        outcomes.push('error' in r ? { photo, frame: null, top: [], prob: 0, error: r.error } : { photo, frame: r.pixels, top: [], prob: 0 });
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const modeOut = path.join(out, mode);
    for (const [i, o] of outcomes.entries()) if (o.frame) await savePreprocessed(path.join(modeOut, 'frames'), stems[i], o.frame, 28);
    await contactSheet(outcomes, path.join(modeOut, 'contact-sheet.png'));
    if (!predictor) {
      console.log(`${mode}: preprocessed ${photos.length} photos in ${seconds.toFixed(1)} s; contact sheet: ${path.join(modeOut, 'contact-sheet.png')}`);
      continue;
    }
    const mistakes = outcomes
      .filter((o) => o.top[0] !== o.photo.label)
      .map((o) => ({ file: path.basename(o.photo.file), truth: CLASS_NAMES[o.photo.label], predicted: o.top.length ? CLASS_NAMES[o.top[0]] : `error: ${o.error}`, prob: o.prob }));
    reports.push({ mode, seconds, sources: bySource(outcomes), mistakes });
  }
  if (!predictor) return;
  predictor.model.dispose();

  const report = { runDir: predictor.runDir, tta: predictor.tta, mirror, photos: photos.length, modes: reports };
  await fs.writeFile(path.join(out, 'report.json'), JSON.stringify(report, null, 2));
  const md = markdown(reports, `Dev photos (${photos.length}), model ${predictor.runDir}, mirror ${mirror}:`);
  if (values.markdown) await fs.writeFile(values.markdown, md);
  if (values.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  process.stdout.write(md);
  for (const r of reports) console.log(`\n${r.mode} (${r.seconds.toFixed(1)} s) mistakes: ${r.mistakes.map((m) => `${m.file} ${m.truth}->${m.predicted}`).join('; ')}`);
  console.log(`\nframes, contact sheets and report.json in ${out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
