import type { Command } from 'commander';
import { initBackend } from '../../backend/index.js';
import { describeModel, type LayerRow, type ModelDescription } from '../../models/describe.js';
import { MODEL_SPECS, PLANNED_MODELS } from '../../models/registry.js';
import { printJson } from '../common.js';

const count = (n: number) => n.toLocaleString('en');

/** The text listing: one header line per model, then one line per layer (nested layers indented). */
export function modelsText(models: readonly ModelDescription[], planned: Readonly<Record<string, string>> = {}): string[] {
  const lines: string[] = [];
  for (const m of models) {
    const head = `${m.name} — ${m.title} [${m.kind}]`;
    if (!m.available) {
      lines.push(`${head}: not available (${m.reason})`);
      continue;
    }
    lines.push(`${head}: ${count(m.params.total)} parameters (${count(m.params.trainable)} trainable, ${count(m.params.nonTrainable)} non-trainable)`);
    const name = (l: LayerRow) => `${'  '.repeat(l.depth)}${l.name}`;
    const width = (f: (l: LayerRow) => string, min: number) => Math.max(min, ...m.layers.map((l) => f(l).length));
    const nameWidth = width(name, 28);
    const typeWidth = width((l) => l.type, 20);
    const shapeWidth = width((l) => JSON.stringify(l.outputShape), 20);
    for (const l of m.layers) {
      const frozen = l.params > 0 && l.trainableParams === 0 ? ' frozen' : '';
      // A Sequential's layers each take the one before; a graph's connections are worth showing.
      const from = m.kind !== 'layers' && l.inputs.length > 0 ? `  <- ${l.inputs.join(', ')}` : '';
      lines.push(`  ${name(l).padEnd(nameWidth)} ${l.type.padEnd(typeWidth)} ${JSON.stringify(l.outputShape).padEnd(shapeWidth)} ${count(l.params).padStart(10)}${frozen}${from}`);
    }
  }
  for (const [name, why] of Object.entries(planned)) lines.push(`${name} — ${why}`);
  return lines;
}

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the models: kind, layers (nested ones indented), output shapes, trainable and non-trainable parameters')
    .option('--json', 'print JSON on stdout')
    .action(async (f: { json?: boolean }) => {
      await initBackend('cpu'); // building a model to count its parameters needs no speed
      const models: ModelDescription[] = [];
      for (const spec of MODEL_SPECS) models.push(await describeModel(spec));
      if (f.json) {
        printJson({ models, planned: PLANNED_MODELS });
        return;
      }
      for (const line of modelsText(models, PLANNED_MODELS)) console.log(line);
    });
}
