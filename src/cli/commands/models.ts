import type { Command } from 'commander';
import type * as tfl from '@tensorflow/tfjs-layers';
import { MODEL_SPECS, PLANNED_MODELS } from '../../models/registry.js';
import { printJson } from '../common.js';

interface LayerRow {
  name: string;
  type: string;
  outputShape: (number | null)[];
  params: number;
}

function describe(model: tfl.LayersModel): LayerRow[] {
  return model.layers.map((l) => ({
    name: l.name,
    type: l.getClassName(),
    outputShape: l.outputShape as (number | null)[],
    params: l.countParams(),
  }));
}

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the models: layers, output shapes, trainable and non-trainable parameters')
    .option('--json', 'print JSON on stdout')
    .action(async (f: { json?: boolean }) => {
      const { initBackend } = await import('../../backend/index.js');
      const { buildModel, countParams } = await import('../../models/build.js');
      await initBackend('cpu'); // building a model to count its parameters needs no speed
      const rows = MODEL_SPECS.map((spec) => {
        const model = buildModel(spec);
        const out = { name: spec.name, title: spec.title, params: countParams(model), layers: describe(model), article: spec.article ?? null };
        model.dispose();
        return out;
      });
      if (f.json) {
        printJson({ models: rows, planned: PLANNED_MODELS });
        return;
      }
      for (const m of rows) {
        console.log(`${m.name} — ${m.title}: ${m.params.total.toLocaleString('en')} parameters (${m.params.trainable.toLocaleString('en')} trainable, ${m.params.nonTrainable.toLocaleString('en')} non-trainable)`);
        for (const l of m.layers) console.log(`  ${l.name.padEnd(28)} ${l.type.padEnd(20)} ${JSON.stringify(l.outputShape).padEnd(20)} ${l.params.toLocaleString('en').padStart(10)}`);
      }
      for (const [name, why] of Object.entries(PLANNED_MODELS)) console.log(`${name} — ${why}`);
    });
}
