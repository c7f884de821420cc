/**
 * Loaded models by run directory, so that a request does not reload weights. A small LRU: the
 * least recently used model is disposed when the cache is full. Loads are shared by concurrent
 * requests (the map holds promises).
 */
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { TestTimeAugmentation } from '../models/tta.js';
import { loadEnsemble, loadRunModel, locateRunModel } from '../runs/index.js';

/** A run's model and the test-time augmentation its record asks for (as `predict` and `evaluate` use it). */
export interface ServedModel {
  model: tfl.LayersModel;
  tta: TestTimeAugmentation;
}

interface Entry {
  /** model/ or the checkpoint's model folder that was loaded: a newer one invalidates the entry. */
  source: string;
  model: Promise<ServedModel>;
}

async function loadServedModel(runDir: string): Promise<ServedModel> {
  const { model, tta } = await loadRunModel(runDir);
  return { model, tta };
}

export class ModelCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly size: number) {}

  async get(runDir: string): Promise<ServedModel> {
    const location = await locateRunModel(runDir);
    return this.entry(path.resolve(runDir), location.dir, () => loadServedModel(runDir));
  }

  /** Several runs' averaged probabilities as one model (serve --ensemble), cached as one entry. */
  async getEnsemble(runDirs: readonly string[]): Promise<ServedModel> {
    const locations = await Promise.all(runDirs.map((d) => locateRunModel(d)));
    const key = `ensemble:${runDirs.map((d) => path.resolve(d)).join(',')}`;
    return this.entry(key, locations.map((l) => l.dir).join(','), async () => {
      const { model, tta } = await loadEnsemble(runDirs);
      return { model, tta };
    });
  }

  private entry(key: string, source: string, load: () => Promise<ServedModel>): Promise<ServedModel> {
    const cached = this.entries.get(key);
    if (cached && cached.source === source) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached.model;
    }
    if (cached) this.drop(key, cached);
    const entry: Entry = { source, model: load() };
    this.entries.set(key, entry);
    entry.model.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    while (this.entries.size > this.size) {
      const [oldKey, old] = this.entries.entries().next().value as [string, Entry];
      this.drop(oldKey, old);
    }
    return entry.model;
  }

  private drop(key: string, entry: Entry): void {
    this.entries.delete(key);
    entry.model.then((m) => m.model.dispose(), () => {});
  }

  clear(): void {
    for (const [key, entry] of [...this.entries]) this.drop(key, entry);
  }
}
