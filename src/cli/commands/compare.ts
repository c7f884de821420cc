import type { Command } from 'commander';
import { addBackendOption, addDataOptions, printJson } from '../common.js';
import { commaList } from '../options.js';
import { requireRunDirOrNothing } from '../../runs/read.js';
import { resolveProtocol } from '../../train/protocol.js';
import { addModelOptions, addTrainingOptions, checkModelNames, givenOn, modelOptionsFromFlags, overridesFromFlags, type ModelOptionFlags, type TrainingFlags } from './train.js';

interface CompareFlags extends TrainingFlags, ModelOptionFlags {
  models: string[];
  out: string;
  pictures: boolean;
  json?: boolean;
}

export function registerCompare(program: Command): void {
  const cmd = program
    .command('compare')
    .description('train several models with the article\'s protocol and print the article\'s table beside ours (compare.json, compare.md)')
    .option('--models <list>', 'comma-separated models (vgg19 and darknet-transfer train their head with their own protocol, 50 epochs on frozen features, unless flags say otherwise; vgg19 is skipped with a note when its weights are not here)', commaList, ['cnn1', 'cnn3', 'cnn4'])
    .option('--out <dir>', 'folder for the runs and the comparison (an existing one is resumed)', 'runs/compare')
    .option('--no-pictures', 'skip drawing each run\'s pictures')
    .option('--json', 'print compare.json on stdout');
  addModelOptions(cmd);
  addTrainingOptions(cmd);
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (f: CompareFlags, command: Command) => {
    const overrides = overridesFromFlags(f, givenOn(command));
    const { hyper, augmentation } = resolveProtocol(undefined, overrides);
    await checkModelNames(f.models);
    const { findModelSpec } = await import('../../models/registry.js');
    // The article trained VGG-19 by its own protocol; the CNNs (best too) share the table's.
    const protocolFor = (model: string) => resolveProtocol(model, overrides, { recipe: findModelSpec(model)?.kind === 'transfer' });
    await requireRunDirOrNothing(f.out); // a file in the way fails before any training
    const { compareModels } = await import('../../compare/run.js');
    const { report, markdown, files } = await compareModels({
      models: f.models,
      hyper,
      augmentation,
      protocolFor,
      modelOptions: modelOptionsFromFlags(f),
      out: f.out,
      pictures: f.pictures,
      backend: f.backend,
      dataDir: f.dataDir,
      verify: f.verify,
    });
    if (f.json) printJson(report);
    else process.stdout.write('\n' + markdown + `\nwritten: ${files.json}, ${files.markdown}\n`);
  });
}
