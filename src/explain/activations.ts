/**
 * Intermediate activations: for one input image, the feature maps of every convolutional layer,
 * one titled block per layer with each channel as a tile (like the article's notebooks). The conv
 * layers are found anywhere in the model: in a Sequential, in a functional graph, and inside
 * nested models (a transfer model's backbone).
 */
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp, { type OverlayOptions } from 'sharp';
import * as vega from 'vega';
import type { ImageShape } from '../data/types.js';
import { isNestedModel, layerInputIn, layerOutputIn } from '../models/inspect.js';
import { formatShape as formatImageShape, modelImageShape, sameShape, shapeSize } from '../models/shape.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { escapeXml, estimateTextWidth, FONT } from './render.js';

/** Layer classes whose outputs are spatial feature maps worth showing. */
const CONV_CLASSES = new Set(['Conv2D', 'SeparableConv2D', 'DepthwiseConv2D']);

export const ACTIVATIONS = {
  margin: 16,
  headerFontSize: 18,
  /** The input image is upscaled by the largest integer that keeps it at or under this many pixels (28 -> x4). */
  inputTarget: 112,
  labelFontSize: 13,
  blockTitleHeight: 30,
  blockTitleFontSize: 15,
  blockGap: 20,
  tileGap: 3,
  /** Tiles are upscaled by the largest integer that keeps them at or under this many pixels... */
  tileTarget: 56,
  /** ...but no more than this, so a 3x3 map does not outgrow the picture. */
  maxScale: 12,
  maxCols: 16,
} as const;

/** [height, width, channels] of one layer's output for a single image. */
export type MapShape = [number, number, number];

export interface ActivationBlock {
  name: string;
  shape: MapShape;
  /** Where the block (its title line) starts in the image. */
  top: number;
  height: number;
  scale: number;
  cols: number;
  rows: number;
}

export interface ActivationsLayout {
  width: number;
  height: number;
  headerHeight: number;
  blocks: ActivationBlock[];
}

function tileScale([h, w]: MapShape): number {
  return Math.min(ACTIVATIONS.maxScale, Math.max(1, Math.floor(ACTIVATIONS.tileTarget / Math.max(h, w))));
}

function tilesSize(b: Pick<ActivationBlock, 'shape' | 'scale' | 'cols' | 'rows'>): { width: number; height: number } {
  const g = ACTIVATIONS.tileGap;
  return {
    width: b.cols * (b.shape[1] * b.scale + g) - g,
    height: b.rows * (b.shape[0] * b.scale + g) - g,
  };
}

/** How much the input image is upscaled in the picture. */
export function inputScale([h, w]: ImageShape): number {
  return Math.max(1, Math.floor(ACTIVATIONS.inputTarget / Math.max(h, w)));
}

/**
 * Where everything goes; a pure function of the input image's shape and the layer shapes, so
 * tests can check the picture against it.
 */
export function activationsLayout(layers: readonly { name: string; shape: MapShape }[], input: ImageShape, titleWidth = 0): ActivationsLayout {
  const A = ACTIVATIONS;
  const scale = inputScale(input);
  const headerHeight = A.headerFontSize + 10 + input[0] * scale + A.labelFontSize + 8 + A.blockGap;
  let top = A.margin + headerHeight;
  let width = A.margin * 2 + Math.max(input[1] * scale + 360, titleWidth);
  const blocks: ActivationBlock[] = [];
  for (const { name, shape } of layers) {
    const cols = Math.min(shape[2], A.maxCols);
    const block = { name, shape, top, scale: tileScale(shape), cols, rows: Math.ceil(shape[2] / cols), height: 0 };
    const tiles = tilesSize(block);
    block.height = A.blockTitleHeight + tiles.height;
    blocks.push(block);
    width = Math.max(width, A.margin * 2 + tiles.width);
    top += block.height + A.blockGap;
  }
  const height = (blocks.length > 0 ? top - A.blockGap : top + A.blockTitleHeight) + A.margin;
  return { width, height, headerHeight, blocks };
}

/** viridis as a 256-entry RGB table, from vega's own scheme (the colormap of matplotlib's imshow). */
const VIRIDIS: Uint8Array = (() => {
  const interpolate = vega.scheme('viridis') as (t: number) => string;
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(interpolate(i / 255));
    if (!m) throw new Error(`unexpected colour from vega's viridis: ${interpolate(i / 255)}`);
    lut.set([Number(m[1]), Number(m[2]), Number(m[3])], i * 3);
  }
  return lut;
})();

/**
 * All channels of one HWC feature map as tiles in one RGB image. Each channel is stretched to
 * 0..255 on its own (a constant channel, e.g. a dead ReLU, stays at 0). Hand-written: an
 * integer nearest-neighbour upscale and a table lookup are a few lines, and one raw buffer per
 * block is much cheaper than one sharp composite per channel.
 */
function tilesRgb(map: Float32Array, block: ActivationBlock): { data: Buffer; width: number; height: number } {
  const [h, w, c] = block.shape;
  const { scale: s, cols } = block;
  const { width, height } = tilesSize(block);
  const data = Buffer.alloc(width * height * 3, 255);
  const level = new Uint8Array(h * w);
  for (let ch = 0; ch < c; ch++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < h * w; i++) {
      const v = map[i * c + ch];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi - lo;
    for (let i = 0; i < h * w; i++) level[i] = range > 0 ? Math.round(((map[i * c + ch] - lo) / range) * 255) : 0;
    const left = (ch % cols) * (w * s + ACTIVATIONS.tileGap);
    const top = Math.floor(ch / cols) * (h * s + ACTIVATIONS.tileGap);
    for (let y = 0; y < h * s; y++) {
      const row = ((top + y) * width + left) * 3;
      const src = Math.floor(y / s) * w;
      for (let x = 0; x < w * s; x++) {
        const l = level[src + Math.floor(x / s)] * 3;
        const o = row + x * 3;
        data[o] = VIRIDIS[l];
        data[o + 1] = VIRIDIS[l + 1];
        data[o + 2] = VIRIDIS[l + 2];
      }
    }
  }
  return { data, width, height };
}

export interface ActivationMap {
  /** The layer's name; inside a nested model, prefixed with the nested model's name ("backbone/conv1"). */
  name: string;
  shape: MapShape;
  data: Float32Array;
}

/**
 * The feature maps of `model`'s conv layers for a batch of one image, in graph order. A conv
 * layer inside a nested model is not reachable from the outer model's input (TF.js wires it in the
 * nested model's own graph), so the outer model is run up to the nested model's input, and the
 * nested model is probed from there.
 */
async function mapsOf(model: tfl.LayersModel, input: tfc.Tensor, prefix: string): Promise<ActivationMap[]> {
  const wanted = model.layers.filter((l) => CONV_CLASSES.has(l.getClassName()) || isNestedModel(l));
  if (wanted.length === 0) return [];
  const symbolic = wanted.map((l) => (isNestedModel(l) ? layerInputIn(model, l) : layerOutputIn(model, l)));
  // One probe output per distinct tensor (a nested model can take a conv layer's output).
  const outputs = [...new Set(symbolic)];
  // A second model over the same layers (shared weights). It is deliberately not disposed:
  // Container.dispose() would release the layers' weights, which still belong to `model`.
  const probe = tfl.model({ inputs: model.inputs, outputs });
  const values = tfc.tidy(() => {
    const out = probe.predict(input);
    return Array.isArray(out) ? out : [out];
  });
  try {
    const maps: ActivationMap[] = [];
    for (let i = 0; i < wanted.length; i++) {
      const layer = wanted[i];
      const t = values[outputs.indexOf(symbolic[i])];
      if (isNestedModel(layer)) {
        maps.push(...(await mapsOf(layer, t, `${prefix}${layer.name}/`)));
        continue;
      }
      if (t.rank !== 4) throw new Error(`${layer.name}: expected a 4-d feature map, got shape ${JSON.stringify(t.shape)}`);
      maps.push({ name: prefix + layer.name, shape: t.shape.slice(1) as MapShape, data: (await t.data()) as Float32Array });
    }
    return maps;
  } finally {
    tfc.dispose(values);
  }
}

/**
 * The feature maps of every conv layer for one image of `shape` (no tensor outlives the call).
 * The image must be what the model takes.
 */
export async function convActivations(model: tfl.LayersModel, pixels: Float32Array, shape: ImageShape): Promise<ActivationMap[]> {
  const wants = modelImageShape(model);
  if (!sameShape(wants, shape)) throw new UserError(`the model takes ${formatImageShape(wants)} images, not ${formatImageShape(shape)}`);
  if (pixels.length !== shapeSize(shape)) throw new UserError(`an image of ${formatImageShape(shape)} has ${shapeSize(shape)} values, not ${pixels.length}`);
  const input = tfc.tensor(pixels, [1, ...shape]);
  try {
    return await mapsOf(model, input, '');
  } finally {
    input.dispose();
  }
}

/** One image ([0,1] values, grey or RGB; otherwise its first channel) as a PNG, upscaled with nearest neighbour. */
async function imagePng(pixels: Float32Array, [h, w, c]: ImageShape, scale: number): Promise<Buffer> {
  const channels = c === 3 ? 3 : 1;
  const bytes = Buffer.alloc(h * w * channels);
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < channels; k++) bytes[i * channels + k] = Math.round(Math.min(1, Math.max(0, pixels[i * c + k])) * 255);
  }
  return sharp(bytes, { raw: { width: w, height: h, channels } })
    .resize(w * scale, h * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
}

function formatShape([h, w, c]: MapShape): string {
  return `${h}×${w}×${c}`;
}

/** The picture for one image of `shape` (which must be what the model takes). */
export async function activationsPng(
  model: tfl.LayersModel,
  pixels: Float32Array,
  shape: ImageShape,
  opts: { caption?: string } = {},
): Promise<{ png: Buffer; layout: ActivationsLayout }> {
  const maps = await convActivations(model, pixels, shape);
  const title = `Activations of ${model.name}${opts.caption ? ` — ${opts.caption}` : ''}`;
  const layout = activationsLayout(maps, shape, estimateTextWidth(title, ACTIVATIONS.headerFontSize, true));
  const A = ACTIVATIONS;
  const texts: string[] = [];
  const text = (x: number, y: number, size: number, s: string, extra = 'fill="#111"') =>
    texts.push(`<text x="${x}" y="${y}" font-size="${size}" ${extra}>${escapeXml(s)}</text>`);
  text(A.margin, A.margin + A.headerFontSize, A.headerFontSize, title, 'fill="#111" font-weight="bold"');
  const inputTop = A.margin + A.headerFontSize + 10;
  const scale = inputScale(shape);
  const [h, w, c] = shape;
  text(A.margin, inputTop + h * scale + A.labelFontSize + 4, A.labelFontSize, `input ${h}×${w}${c === 1 ? '' : `×${c}`}`);
  const noteLeft = A.margin + w * scale + 20;
  text(noteLeft, inputTop + 20, A.labelFontSize, 'one tile per channel, each scaled to its own range:', 'fill="#444"');
  text(noteLeft, inputTop + 20 + A.labelFontSize + 6, A.labelFontSize, 'dark = lowest activation, yellow = highest', 'fill="#444"');
  const overlays: OverlayOptions[] = [{ input: await imagePng(pixels, shape, scale), left: A.margin, top: inputTop }];
  for (let i = 0; i < maps.length; i++) {
    const block = layout.blocks[i];
    const scaleNote = block.scale > 1 ? `, shown ×${block.scale}` : '';
    // tspans flow one after the other, so the bold name and the plain shape share a line.
    texts.push(
      `<text x="${A.margin}" y="${block.top + A.blockTitleFontSize + 4}" font-size="${A.blockTitleFontSize}" fill="#111">` +
        `<tspan font-weight="bold">${escapeXml(block.name)}</tspan>` +
        `<tspan fill="#444" dx="12">output ${formatShape(block.shape)} (${block.shape[2]} channels${scaleNote})</tspan></text>`,
    );
    const tiles = tilesRgb(maps[i].data, block);
    overlays.push({
      input: tiles.data,
      raw: { width: tiles.width, height: tiles.height, channels: 3 },
      left: A.margin,
      top: block.top + A.blockTitleHeight,
    });
  }
  if (maps.length === 0) text(A.margin, layout.height - A.margin - 8, A.blockTitleFontSize, 'this model has no convolutional layers');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" font-family="${FONT}">${texts.join('')}</svg>`;
  overlays.push({ input: Buffer.from(svg), left: 0, top: 0 });
  const png = await sharp({ create: { width: layout.width, height: layout.height, channels: 3, background: '#ffffff' } })
    .composite(overlays)
    .png()
    .toBuffer();
  return { png, layout };
}

export async function renderActivations(
  model: tfl.LayersModel,
  pixels: Float32Array,
  shape: ImageShape,
  outPng: string,
  opts: { caption?: string } = {},
): Promise<ActivationsLayout> {
  const { png, layout } = await activationsPng(model, pixels, shape, opts);
  await writeFileAtomic(outPng, png);
  return layout;
}
