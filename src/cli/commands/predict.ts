import { Option, type Command } from 'commander';
import { IMAGE_SIZE, NUM_CLASSES } from '../../data/types.js';
import { TTA_CHOICES, type TestTimeAugmentation } from '../../models/spec.js';
import { DEFAULT_PREPROCESS_MODE, PREPROCESS_MODES, type PreprocessMode } from '../../predict/config.js';
import type { ImagePrediction } from '../../predict/index.js';
import { commaList, positiveInt } from '../options.js';
import { oneLine } from '../../util/errors.js';
import { addBackendOption, printJson, type CommonFlags } from '../common.js';

interface PredictFlags extends Pick<CommonFlags, 'backend'> {
  top: number;
  json?: boolean;
  savePreprocessed?: string;
  run?: string;
  preprocess: PreprocessMode;
  tta?: TestTimeAugmentation;
  ensemble?: string[];
}

/** The --json document: one entry per image, in argument order. */
function jsonResult(p: ImagePrediction, saved: string[] | undefined) {
  if (!p.ok) return { file: p.file, ok: false, error: p.error };
  const { mode, box, background, inverted, mirrored, objectFound } = p.info;
  return {
    file: p.file,
    ok: true,
    top: p.top,
    preprocess: { mode, box, background: { rgb: background.rgb.map(Math.round), light: background.light }, inverted, mirrored, objectFound, ...(saved ? { saved } : {}) },
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
    .description('classify your own clothing photos (JPEG, PNG, WebP, GIF, ...) with the shipped default model or a trained run')
    .usage('[options] [RUN_DIR] IMAGE...')
    .argument('<images...>', 'image files; when the first one is a run directory (or --run is given), that run\'s model classifies the rest instead of the default model')
    .option('--run <dir>', 'the run directory whose model classifies (default: the shipped model at models/default, or $FASHION_CNN_DEFAULT_MODEL)')
    .option('--top <k>', `how many classes to show per image (1-${NUM_CLASSES})`, positiveInt, 3)
    .addOption(new Option('--preprocess <mode>', 'how a photo becomes a Fashion-MNIST frame: mask (find the object), paper (the data set\'s own conversion), hybrid (mask crop, paper rendering)').choices(PREPROCESS_MODES).default(DEFAULT_PREPROCESS_MODE))
    .option('--ensemble <runs>', 'classify with several runs together instead: comma-separated run directories or folders of runs (a sweep\'s folder: its finished runs), their probabilities averaged; slower by the number of runs', commaList)
    .addOption(new Option('--tta <mode>', 'test-time flip: average over the frame and its mirror (default: what the run\'s config.json says)').choices(TTA_CHOICES))
    .option('--json', 'print one JSON document on stdout')
    .option('--save-preprocessed <dir>', `write each ${IMAGE_SIZE}x${IMAGE_SIZE} image the model saw (and an 8x enlargement) as PNG into DIR`);
  addBackendOption(cmd).action(async (args: string[], f: PredictFlags) => {
    const { predictRun, looksLikeRunDir } = await import('../../predict/index.js');
    let runDir = f.run;
    let images = args;
    if (runDir === undefined && !f.ensemble && (await looksLikeRunDir(args[0]))) [runDir, ...images] = args;
    if (runDir !== undefined && f.ensemble) cmd.error('error: give a run (RUN_DIR or --run) or --ensemble, not both', { exitCode: 2 });
    if (images.length === 0) cmd.error("error: missing required argument 'images'", { exitCode: 2 });
    const { results, saved, failed } = await predictRun({ runDir, images, top: f.top, savePreprocessedDir: f.savePreprocessed, backend: f.backend, preprocess: f.preprocess, tta: f.tta, ensemble: f.ensemble });
    if (f.json) printJson(results.map((p, i) => jsonResult(p, saved[i])));
    else for (const p of results) (p.ok ? process.stdout : process.stderr).write(`${textLine(p)}\n`);
    // With --json the document says which images failed and why; stderr still says that some did.
    if (failed > 0) process.stderr.write(`fashion-cnn: ${failed} of ${results.length} images could not be classified\n`);
    // Per-image failures do not stop the others; the exit status still says some failed.
    if (failed > 0) process.exitCode = 1;
  });
}
