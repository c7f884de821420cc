import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { initBackend } from '../../backend/index.js';
import { loadFashionMnist } from '../../data/index.js';
import { requireModelSpec } from '../../models/build.js';
import { compareMarkdown, compareRow, type CompareReport } from '../../compare/table.js';
import { runPath } from '../../train/record.js';
import { trainRun } from '../../train/run.js';
import { writeFileAtomic, writeJsonAtomic } from '../../util/atomic.js';
import { addBackendOption, addDataOptions, printJson } from '../common.js';
import { commaList } from '../options.js';
import { addTrainingOptions, augmentationFromFlags, hyperFromFlags } from './train.js';

export function registerCompare(program: Command): void {
  const cmd = program
    .command('compare')
    .description('train several models with the article\'s protocol and print the article\'s table beside ours (compare.json, compare.md)')
    .option('--models <list>', 'comma-separated models', commaList, ['cnn1', 'cnn3', 'cnn4'])
    .option('--out <dir>', 'folder for the runs and the comparison (an existing one is resumed)', 'runs/compare')
    .option('--no-pictures', 'skip drawing each run\'s pictures')
    .option('--json', 'print compare.json on stdout');
  addTrainingOptions(cmd);
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (f) => {
    const specs = (f.models as string[]).map(requireModelSpec); // unknown or not-yet-available models fail before any training
    const hyper = hyperFromFlags(f);
    const backend = await initBackend(f.backend);
    const data = await loadFashionMnist({ dataDir: f.dataDir, verify: f.verify });
    const report: CompareReport = {
      createdAt: new Date().toISOString(),
      backend: backend.description,
      protocol: { epochs: hyper.epochs, augEpochs: hyper.augEpochs, batchSize: hyper.batchSize, seed: hyper.seed, limit: hyper.limit },
      rows: [],
    };
    for (const spec of specs) {
      const runDir = path.join(f.out, spec.name);
      const exists = await fs.access(runPath(runDir, 'config')).then(() => true, () => false);
      process.stderr.write(`\n== ${spec.name}: ${spec.title}${exists ? ' (resuming)' : ''}\n`);
      const s = await trainRun({
        model: spec.name,
        hyper,
        augmentation: augmentationFromFlags(f),
        runDir,
        resume: exists,
        data,
        backend: f.backend,
        pictures: f.pictures,
      });
      report.rows.push(compareRow(spec.name, runDir, s.config.params.total, s.history, s.eval, spec.article ?? null));
      await writeJsonAtomic(path.join(f.out, 'compare.json'), report);
    }
    const md = compareMarkdown(report);
    await writeFileAtomic(path.join(f.out, 'compare.md'), md);
    if (f.json) printJson(report);
    else process.stdout.write('\n' + md + `\nwritten: ${path.join(f.out, 'compare.json')}, ${path.join(f.out, 'compare.md')}\n`);
  });
}
