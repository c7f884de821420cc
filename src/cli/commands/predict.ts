import type { Command } from 'commander';
import { IMAGE_SIZE, NUM_CLASSES } from '../../data/types.js';
import type { ImagePrediction } from '../../predict/index.js';
import { positiveInt } from '../options.js';
import { oneLine } from '../../util/errors.js';
import { addBackendOption, printJson, type CommonFlags } from '../common.js';

interface PredictFlags extends Pick<CommonFlags, 'backend'> {
  top: number;
  json?: boolean;
  savePreprocessed?: string;
}

/** The --json document: one entry per image, in argument order. */
function jsonResult(p: ImagePrediction, saved: string[] | undefined) {
  if (!p.ok) return { file: p.file, ok: false, error: p.error };
  const { box, background, inverted, mirrored, objectFound } = p.info;
  return {
    file: p.file,
    ok: true,
    top: p.top,
    preprocess: { box, background: { rgb: background.rgb.map(Math.round), light: background.light }, inverted, mirrored, objectFound, ...(saved ? { saved } : {}) },
  };
}

/** One line per image, whatever its name holds (a newline in a file name is shown escaped). */
function textLine(p: ImagePrediction): string {
  return oneLine(textOf(p));
}

function textOf(p: ImagePrediction): string {
  if (!p.ok) return `${p.file}: error: ${p.error}`;
  const classes = p.top.map((c) => `${c.name} ${(c.prob * 100).toFixed(1)}%`).join(', ');
  return `${p.file}: ${classes}${p.info.objectFound ? '' : ' (no object stood out from the background)'}`;
}

export function registerPredict(program: Command): void {
  const cmd = program
    .command('predict')
    .description('classify your own clothing photos (JPEG, PNG, WebP, GIF, ...) with a trained run')
    .argument('<run-dir>', 'a run directory with a trained model (model/ or checkpoint/model/)')
    .argument('<images...>', 'image files')
    .option('--top <k>', `how many classes to show per image (1-${NUM_CLASSES})`, positiveInt, 3)
    .option('--json', 'print one JSON document on stdout')
    .option('--save-preprocessed <dir>', `write each ${IMAGE_SIZE}x${IMAGE_SIZE} image the model saw (and an 8x enlargement) as PNG into DIR`);
  addBackendOption(cmd).action(async (runDir: string, images: string[], f: PredictFlags) => {
    const { predictRun } = await import('../../predict/run.js');
    const { results, saved, failed } = await predictRun({ runDir, images, top: f.top, savePreprocessedDir: f.savePreprocessed, backend: f.backend });
    if (f.json) printJson(results.map((p, i) => jsonResult(p, saved[i])));
    else for (const p of results) (p.ok ? process.stdout : process.stderr).write(`${textLine(p)}\n`);
    // With --json the document says which images failed and why; stderr still says that some did.
    if (failed > 0) process.stderr.write(`fashion-cnn: ${failed} of ${results.length} images could not be classified\n`);
    // Per-image failures do not stop the others; the exit status still says some failed.
    if (failed > 0) process.exitCode = 1;
  });
}
