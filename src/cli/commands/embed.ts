import { InvalidArgumentError, Option, type Command } from 'commander';
import { UserError } from '../../util/errors.js';
// Only the light types module here: the stage (TF.js, t-SNE, UMAP, plots) loads when the command runs.
import { EMBED_METHODS, EMBED_SPLITS, type EmbedMethod, type EmbedSplit } from '../../explain/embed/types.js';
import type { EmbedOutcome } from '../../explain/embed/run.js';
import { addBackendOption, addDataOptions, prepareOutputFolder, printJson, type CommonFlags } from '../common.js';
import { commaList, nonNegativeInt, positiveInt, positiveNumber } from '../options.js';

interface EmbedFlags extends CommonFlags {
  pixels?: boolean;
  method: EmbedMethod;
  dims?: string;
  count?: number;
  split: EmbedSplit;
  layer?: string;
  seed?: number;
  out?: string;
  components?: string[];
  perplexity?: number;
  iterations?: number;
  learningRate?: number;
  theta?: number;
  tsneInit?: 'pca' | 'random';
  neighbors?: number;
  minDist?: number;
  umapInit?: 'pca' | 'random';
  epochs?: number;
  left?: string;
  right?: string;
  up?: string;
  down?: string;
  json?: boolean;
}

/** Flags that only mean something for one method: given with another, they are a mistake. */
const METHOD_FLAGS: Record<EmbedMethod, (keyof EmbedFlags)[]> = {
  pca: ['components'],
  tsne: ['perplexity', 'iterations', 'learningRate', 'theta', 'tsneInit'],
  umap: ['neighbors', 'minDist', 'epochs', 'umapInit'],
  custom: ['left', 'right', 'up', 'down'],
};

const FLAG_NAMES: Partial<Record<keyof EmbedFlags, string>> = {
  components: '--components', perplexity: '--perplexity', iterations: '--iterations', learningRate: '--learning-rate', theta: '--theta',
  tsneInit: '--tsne-init', umapInit: '--umap-init', neighbors: '--neighbors', minDist: '--min-dist', epochs: '--epochs', left: '--left', right: '--right', up: '--up', down: '--down',
};

function checkMethodFlags(f: EmbedFlags): void {
  for (const [method, flags] of Object.entries(METHOD_FLAGS) as [EmbedMethod, (keyof EmbedFlags)[]][]) {
    if (method === f.method) continue;
    for (const flag of flags) {
      if (f[flag] !== undefined) throw new UserError(`${FLAG_NAMES[flag]} applies to --method ${method}, not ${f.method}`);
    }
  }
}

function parseComponents(items: string[] | undefined): number[] | undefined {
  return items?.map((s) => {
    if (!/^\d+$/.test(s)) throw new UserError(`--components: expected component numbers like 1,2,3, got "${s}"`);
    return Number(s);
  });
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative number, got "${value}"`);
  return n;
}

function formatSummary(o: EmbedOutcome, METHOD_LABELS: Record<EmbedMethod, string>): string {
  const r = o.record;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const src = r.source.kind === 'pixels' ? `pixels (${r.source.dim} dims)` : `${r.source.model} layer ${r.source.layer} (${r.source.dim} dims)`;
  const lines = [`${METHOD_LABELS[r.method]} ${r.dims}-D of ${src}: ${r.count} ${r.split} images, seed ${r.seed}`];
  const t = r.timings;
  const time = (k: string) => (t[k] ? `${k} ${t[k].seconds.toFixed(1)} s` : null);
  lines.push(`  time: ${['data', 'features', 'knn', 'projection', 'quality', 'files'].map(time).filter(Boolean).join(', ')} (projection CPU ${t.projection?.cpuSeconds.toFixed(1)} s)`);
  lines.push(`  ${r.quality.k}-NN label agreement: ${pct(r.quality.original)} in the original space, ${pct(r.quality.projection)} in the projection; ${pct(r.quality.neighbourhoodPreserved)} of original neighbours kept`);
  if (r.pca) {
    lines.push(`  PCA explained variance (top ${r.pca.explainedVariance.length}, total ${pct(r.pca.explainedTotal)}):`);
    lines.push('    ' + r.pca.explainedVariance.map((v, i) => `PC${i + 1} ${pct(v)}`).join('  '));
  }
  if (r.tsne) lines.push(`  t-SNE: perplexity ${r.tsne.perplexity}, ${r.tsne.iterations} iterations, learning rate ${r.tsne.learningRate.toFixed(0)}, theta ${r.tsne.theta}, ${r.tsne.init} init, final KL ${r.tsne.kl.toFixed(3)}`);
  if (r.umap) lines.push(`  UMAP: ${r.umap.neighbors} neighbours, min-dist ${r.umap.minDist}, ${r.umap.epochs} epochs, ${r.umap.init} init`);
  if (r.custom) {
    lines.push(`  x axis: ${r.custom.x.fromClasses.join(', ')} (${r.custom.x.fromCount} points) -> ${r.custom.x.toClasses.join(', ')} (${r.custom.x.toCount} points)`);
    if (r.custom.y) lines.push(`  y axis: ${r.custom.y.fromClasses.join(', ')} (${r.custom.y.fromCount} points) -> ${r.custom.y.toClasses.join(', ')} (${r.custom.y.toCount} points)`);
    if (r.custom.filledBy) lines.push(`  other axes: ${r.custom.filledBy}`);
  }
  lines.push(`  wrote ${o.out}/: ${o.files.map((f) => f.slice(o.out.length + 1)).join(', ')}`);
  return lines.join('\n');
}

export function registerEmbed(program: Command): void {
  const cmd = program
    .command('embed')
    .description('project raw pixels or a trained model\'s learned features to 2-D/3-D (PCA, t-SNE, UMAP, custom axes), measure class separation, and write a scatter plot and TensorBoard projector files')
    .argument('[run-dir]', 'a run directory made by `fashion-cnn train` (embeds its model\'s last hidden layer)')
    .option('--pixels', 'embed raw pixels instead of a model\'s features')
    .addOption(new Option('--method <method>', 'projection').choices([...EMBED_METHODS]).default('pca'))
    .addOption(new Option('--dims <n>', 'dimensions of the projection (default 2, or as many as --components lists)').choices(['2', '3']))
    .option('--count <n>', 'images to embed, a seeded sample stratified by class (default 2500, at most 10000)', positiveInt)
    .addOption(new Option('--split <split>', 'which images: the test set, or the run\'s validation split').choices([...EMBED_SPLITS]).default('test'))
    .option('--layer <name>', 'the model layer whose activations are embedded (default: the one feeding the classifier)')
    .option('--seed <n>', 'seed for the sample, t-SNE/UMAP randomness, and the --pixels validation split (default 13)', nonNegativeInt)
    .option('--out <dir>', 'output folder (default RUN_DIR/embed/<method>-<dims>d, or runs/embed-pixels/<method>-<dims>d)')
    .option('--components <list>', 'pca: which of the top 10 components to plot, e.g. 1,2 or 2,3,4', commaList)
    .option('--perplexity <n>', 'tsne: perplexity (default 30)', positiveNumber)
    .option('--iterations <n>', 'tsne: gradient-descent iterations (default 1000)', positiveInt)
    .option('--learning-rate <rate>', 'tsne: learning rate (default max(200, N/12))', positiveNumber)
    .option('--theta <t>', 'tsne: Barnes-Hut accuracy, 0 = exact (default 0.5)', nonNegativeNumber)
    .addOption(new Option('--tsne-init <init>', 'tsne: starting layout (default pca)').choices(['pca', 'random']))
    .option('--neighbors <n>', 'umap: neighbours (default 15)', positiveInt)
    .option('--min-dist <d>', 'umap: minimum distance (default 0.1)', nonNegativeNumber)
    .addOption(new Option('--umap-init <init>', 'umap: starting layout (default pca)').choices(['pca', 'random']))
    .option('--epochs <n>', 'umap: optimisation epochs (default: umap-js\'s choice for the size)', positiveInt)
    .option('--left <regex>', 'custom: x axis starts at the centroid of the classes matching this')
    .option('--right <regex>', 'custom: x axis ends at the centroid of the classes matching this')
    .option('--up <regex>', 'custom: y axis ends at the centroid of these classes (with --down)')
    .option('--down <regex>', 'custom: y axis starts at the centroid of these classes (with --up)')
    .option('--json', 'print a JSON summary on stdout');
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (runDir: string | undefined, f: EmbedFlags) => {
    checkMethodFlags(f);
    if (f.method === 'custom' && (f.left === undefined || f.right === undefined)) {
      throw new UserError('--method custom needs --left and --right (regular expressions over class names, e.g. --left shirt --right coat)');
    }
    const components = parseComponents(f.components);
    if (!f.dims && components && components.length !== 2 && components.length !== 3) {
      throw new UserError(`--components lists ${components.length} components; a projection has 2 or 3 dimensions`);
    }
    const dims = (f.dims ? Number(f.dims) : (components?.length ?? 2)) as 2 | 3;
    const undoOut = f.out !== undefined ? await prepareOutputFolder('--out', f.out) : async () => {};
    const { runEmbed, METHOD_LABELS } = await import('../../explain/embed/run.js');
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const progress = process.stderr.isTTY
      ? (done: number, total: number, note: string) => process.stderr.write(`\r${METHOD_LABELS[f.method]}: ${done}/${total} ${note}   ${done === total ? '\n' : ''}`)
      : undefined;
    let outcome: EmbedOutcome;
    try {
      outcome = await runEmbed({
        runDir,
        pixels: f.pixels,
        method: f.method,
        dims,
        count: f.count,
        split: f.split,
        layer: f.layer,
        seed: f.seed,
        out: f.out,
        components,
        perplexity: f.perplexity,
        iterations: f.iterations,
        learningRate: f.learningRate,
        theta: f.theta,
        tsneInit: f.tsneInit,
        neighbors: f.neighbors,
        minDist: f.minDist,
        umapInit: f.umapInit,
        epochs: f.epochs,
        custom: f.left !== undefined && f.right !== undefined ? { left: f.left, right: f.right, up: f.up, down: f.down } : undefined,
        dataDir: f.dataDir,
        verify: f.verify,
        backend: f.backend,
        log,
        onProgress: progress,
      });
    } catch (e) {
      await undoOut();
      throw e;
    }
    if (f.json) {
      const { coords: _coords, indices: _indices, labels: _labels, ...rest } = outcome.record;
      printJson({ out: outcome.out, files: outcome.files, ...rest });
    } else {
      console.log(formatSummary(outcome, METHOD_LABELS));
    }
  });
}
