/**
 * Files for TensorBoard's Embedding Projector: the vectors (tensors.tsv), one metadata row per
 * vector under a header row (metadata.tsv), a sprite of all thumbnails, and the config in the two
 * forms the projector reads (projector_config.pbtxt for TensorBoard, projector_config.json for the
 * standalone projector at projector.tensorflow.org). The projection itself is added as a second
 * tensor, so the projector can show fashion-cnn's layout next to its own.
 */
import sharp from 'sharp';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../util/atomic.js';
import type { DenseMatrix } from './types.js';

export const PROJECTOR_FILES = {
  tensors: 'tensors.tsv',
  projection: 'projection.tsv',
  metadata: 'metadata.tsv',
  sprite: 'sprite.png',
  configJson: 'projector_config.json',
  configPbtxt: 'projector_config.pbtxt',
} as const;

/** TensorBoard refuses sprites larger than this on a side. */
export const MAX_SPRITE_SIDE = 8192;

export interface ProjectorInput {
  features: DenseMatrix;
  featuresName: string;
  projection: DenseMatrix;
  projectionName: string;
  labels: ArrayLike<number>;
  indices: ArrayLike<number>;
  classNames: readonly string[];
  /** Thumbnails, `thumb` x `thumb` grey bytes each, in point order. */
  thumbnails: Uint8Array;
  thumb: number;
}

function formatNumber(v: number): string {
  if (v === 0) return '0';
  // Six significant digits: exact enough for the projector, a third of the bytes of full floats.
  return String(Number(v.toPrecision(6)));
}

/** Distinct values remembered while formatting: pixels have only 256, so most are formatted once. */
const FORMAT_CACHE_LIMIT = 4096;

export function tensorsTsv(m: DenseMatrix): string {
  const lines = new Array<string>(m.rows);
  const row = new Array<string>(m.cols);
  const cache = new Map<number, string>();
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) {
      const v = m.data[i * m.cols + j];
      let s = cache.get(v);
      if (s === undefined) {
        s = formatNumber(v);
        if (cache.size < FORMAT_CACHE_LIMIT) cache.set(v, s);
      }
      row[j] = s;
    }
    lines[i] = row.join('\t');
  }
  return lines.join('\n') + '\n';
}

/** A header row, then one row per point: class name, label number, index in its data file. */
export function metadataTsv(labels: ArrayLike<number>, indices: ArrayLike<number>, classNames: readonly string[]): string {
  const lines = ['class\tlabel\tindex'];
  for (let i = 0; i < labels.length; i++) lines.push(`${classNames[labels[i]]}\t${labels[i]}\t${indices[i]}`);
  return lines.join('\n') + '\n';
}

/** Cells per side of the square sprite grid that holds n thumbnails (unused cells stay black). */
export function spriteGridSide(n: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(n)));
}

/**
 * All thumbnails in a square grid, row by row in point order, as the projector expects. The grid
 * is laid out in one grey buffer and encoded once by sharp: composing thousands of 28x28 overlays
 * one by one is far slower and gives the same picture.
 */
export async function spritePng(thumbnails: Uint8Array, thumb: number, n: number): Promise<Buffer> {
  const side = spriteGridSide(n);
  const px = side * thumb;
  if (px > MAX_SPRITE_SIDE) throw new RangeError(`a sprite of ${n} thumbnails would be ${px} px wide, over TensorBoard's ${MAX_SPRITE_SIDE}`);
  const canvas = Buffer.alloc(px * px);
  for (let i = 0; i < n; i++) {
    const r0 = Math.floor(i / side) * thumb;
    const c0 = (i % side) * thumb;
    for (let r = 0; r < thumb; r++) {
      const src = (i * thumb + r) * thumb;
      canvas.set(thumbnails.subarray(src, src + thumb), (r0 + r) * px + c0);
    }
  }
  return sharp(canvas, { raw: { width: px, height: px, channels: 1 } }).png().toBuffer();
}

interface EmbeddingEntry {
  name: string;
  shape: [number, number];
  tensorPath: string;
}

export function projectorConfigJson(entries: EmbeddingEntry[], thumb: number): object {
  return {
    embeddings: entries.map((e) => ({
      tensorName: e.name,
      tensorShape: e.shape,
      tensorPath: e.tensorPath,
      metadataPath: PROJECTOR_FILES.metadata,
      sprite: { imagePath: PROJECTOR_FILES.sprite, singleImageDim: [thumb, thumb] },
    })),
  };
}

export function projectorConfigPbtxt(entries: EmbeddingEntry[], thumb: number): string {
  const q = (s: string) => JSON.stringify(s);
  return entries
    .map((e) =>
      [
        'embeddings {',
        `  tensor_name: ${q(e.name)}`,
        `  tensor_shape: ${e.shape[0]}`,
        `  tensor_shape: ${e.shape[1]}`,
        `  tensor_path: ${q(e.tensorPath)}`,
        `  metadata_path: ${q(PROJECTOR_FILES.metadata)}`,
        '  sprite {',
        `    image_path: ${q(PROJECTOR_FILES.sprite)}`,
        `    single_image_dim: ${thumb}`,
        `    single_image_dim: ${thumb}`,
        '  }',
        '}',
      ].join('\n'),
    )
    .join('\n') + '\n';
}

/** Writes every projector file into `dir`, each atomically; returns their paths. */
export async function writeProjectorFiles(dir: string, input: ProjectorInput): Promise<string[]> {
  const n = input.labels.length;
  if (input.features.rows !== n || input.projection.rows !== n || input.indices.length !== n || input.thumbnails.length !== n * input.thumb * input.thumb) {
    throw new RangeError('projector inputs disagree on the number of points');
  }
  const entries: EmbeddingEntry[] = [
    { name: input.featuresName, shape: [n, input.features.cols], tensorPath: PROJECTOR_FILES.tensors },
    { name: input.projectionName, shape: [n, input.projection.cols], tensorPath: PROJECTOR_FILES.projection },
  ];
  const p = (f: string) => path.join(dir, f);
  await writeFileAtomic(p(PROJECTOR_FILES.tensors), tensorsTsv(input.features));
  await writeFileAtomic(p(PROJECTOR_FILES.projection), tensorsTsv(input.projection));
  await writeFileAtomic(p(PROJECTOR_FILES.metadata), metadataTsv(input.labels, input.indices, input.classNames));
  await writeFileAtomic(p(PROJECTOR_FILES.sprite), await spritePng(input.thumbnails, input.thumb, n));
  await writeJsonAtomic(p(PROJECTOR_FILES.configJson), projectorConfigJson(entries, input.thumb));
  await writeFileAtomic(p(PROJECTOR_FILES.configPbtxt), projectorConfigPbtxt(entries, input.thumb));
  return Object.values(PROJECTOR_FILES).map(p);
}
