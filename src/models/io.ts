/**
 * Saving and loading models in TF.js layers format (model.json + weights.bin) on the local file
 * system. tfjs-node provides `file://` handlers, but it cannot be installed here, so these are
 * small handlers over tfjs-core's IO types.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { replaceDirAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import './custom-layers.js'; // registers fashion-cnn's layer classes, so saved transfer models load

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

function concatWeightData(data: tfc.io.WeightData): Uint8Array {
  const buffers = Array.isArray(data) ? data : [data];
  return Buffer.concat(buffers.map((b) => new Uint8Array(b)));
}

/** Writes model.json + weights.bin into `dir`, replacing it atomically. */
export async function saveModel(model: tfl.LayersModel, dir: string): Promise<void> {
  await replaceDirAtomic(dir, async (tmp) => {
    await model.save(
      tfc.io.withSaveHandler(async (artifacts) => {
        const weights = artifacts.weightData ? concatWeightData(artifacts.weightData) : new Uint8Array();
        const modelJson = {
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
          convertedBy: 'fashion-cnn',
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
        };
        await fs.writeFile(path.join(tmp, WEIGHTS_BIN), weights);
        await fs.writeFile(path.join(tmp, MODEL_JSON), JSON.stringify(modelJson));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
      }),
    );
  });
}

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/**
 * How many bytes of weight data a manifest describes, or null when it cannot say (string
 * weights). TF.js itself only checks that there are enough bytes, and takes extra ones silently.
 */
function manifestBytes(specs: readonly tfc.io.WeightsManifestEntry[]): number | null {
  let total = 0;
  for (const s of specs) {
    const per = BYTES_PER_VALUE[s.quantization?.dtype ?? s.dtype];
    if (per === undefined) return null;
    total += s.shape.reduce((a, b) => a * b, 1) * per;
  }
  return total;
}

/** An IO handler that reads a TF.js layers model (any number of weight shards) from a folder. */
export function fileHandler(dir: string): tfc.io.IOHandler {
  return {
    load: async () => {
      const jsonPath = path.join(dir, MODEL_JSON);
      let json: {
        modelTopology: object;
        weightsManifest: { paths: string[]; weights: tfc.io.WeightsManifestEntry[] }[];
        format?: string;
        generatedBy?: string;
        convertedBy?: string;
      };
      try {
        json = JSON.parse(await fs.readFile(jsonPath, 'utf8'));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new UserError(code === 'ENOENT' ? `no model found: ${jsonPath} does not exist` : `cannot read ${jsonPath}: ${(e as Error).message}`);
      }
      const specs: tfc.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(await fs.readFile(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      const expected = manifestBytes(specs);
      if (expected !== null && expected !== all.byteLength) {
        const files = (json.weightsManifest ?? []).flatMap((g) => g.paths).join(', ');
        throw new UserError(`${path.join(dir, files)}: holds ${all.byteLength} bytes of weights, ${jsonPath} describes ${expected}: the weights belong to another model or were cut short`);
      }
      return {
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
      };
    },
  };
}

export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(fileHandler(dir));
}
