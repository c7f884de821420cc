/** 3x3 grids of test images with their predicted and true classes (correct or incorrect ones). */
import sharp, { type OverlayOptions } from 'sharp';
import { CLASS_NAMES, IMAGE_SIZE, PIXELS, type Examples } from '../data/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Rng } from '../util/rng.js';
import { escapeXml, FONT } from './render.js';

export interface GridItem {
  /** 784 values in [0,1], row-major 28x28. */
  pixels: Float32Array;
  caption: string;
  /** Colours the caption: green when true, red when false, black when absent. */
  ok?: boolean;
  /** Index in the test set, when the item came from it. */
  index?: number;
}

export interface Prediction {
  label: number;
  prob: number;
}

export const GRID = {
  cols: 3,
  rows: 3,
  /** Nearest-neighbour upscaling keeps the 28x28 pixels visible as pixels. */
  scale: 6,
  cellWidth: 240,
  captionHeight: 50,
  captionFontSize: 15,
  titleHeight: 44,
  titleFontSize: 20,
  margin: 16,
} as const;

const COLOURS = { ok: '#1a7f37', wrong: '#cf222e', neutral: '#222', empty: '#777' };
export const GRID_CAPACITY = GRID.cols * GRID.rows;

export function gridSize(hasTitle: boolean): { width: number; height: number } {
  const imageSize = IMAGE_SIZE * GRID.scale;
  return {
    width: GRID.margin * 2 + GRID.cols * GRID.cellWidth,
    height: GRID.margin * 2 + (hasTitle ? GRID.titleHeight : 0) + GRID.rows * (imageSize + GRID.captionHeight),
  };
}

export function predictionCaption(pred: Prediction, trueLabel: number): string {
  return `pred: ${CLASS_NAMES[pred.label]} (${pred.prob.toFixed(2)}) / true: ${CLASS_NAMES[trueLabel]}`;
}

/**
 * Up to nine seeded picks among the test images the model got right (correct=true) or wrong.
 * predictions[i] belongs to test example i.
 */
export function pickGridItems(test: Examples, predictions: readonly Prediction[], correct: boolean, rng: Rng, count = GRID_CAPACITY): GridItem[] {
  if (predictions.length !== test.count) {
    throw new Error(`pickGridItems: ${predictions.length} predictions for ${test.count} test images`);
  }
  const candidates: number[] = [];
  for (let i = 0; i < test.count; i++) {
    if ((predictions[i].label === test.y[i]) === correct) candidates.push(i);
  }
  // Partial Fisher-Yates: only the first `count` positions need to be drawn.
  const n = Math.min(count, candidates.length);
  for (let k = 0; k < n; k++) {
    const j = k + rng.int(candidates.length - k);
    [candidates[k], candidates[j]] = [candidates[j], candidates[k]];
  }
  return candidates.slice(0, n).map((i) => ({
    pixels: test.x.slice(i * PIXELS, (i + 1) * PIXELS),
    caption: predictionCaption(predictions[i], test.y[i]),
    ok: predictions[i].label === test.y[i],
    index: i,
  }));
}

/** A 28x28 [0,1] image as PNG bytes, upscaled with nearest neighbour. */
export async function digitPng(pixels: Float32Array, scale: number): Promise<Buffer> {
  if (pixels.length !== PIXELS) throw new Error(`expected ${PIXELS} pixels, got ${pixels.length}`);
  const grey = Buffer.alloc(PIXELS);
  for (let i = 0; i < PIXELS; i++) grey[i] = Math.round(Math.min(1, Math.max(0, pixels[i])) * 255);
  return sharp(grey, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } })
    .resize(IMAGE_SIZE * scale, IMAGE_SIZE * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
}

function captionColour(ok: boolean | undefined): string {
  return ok === undefined ? COLOURS.neutral : ok ? COLOURS.ok : COLOURS.wrong;
}

export async function gridPng(items: readonly GridItem[], opts: { title?: string; emptyText?: string } = {}): Promise<Buffer> {
  const shown = items.slice(0, GRID_CAPACITY);
  const { width, height } = gridSize(opts.title !== undefined);
  const imageSize = IMAGE_SIZE * GRID.scale;
  const top0 = GRID.margin + (opts.title !== undefined ? GRID.titleHeight : 0);
  const texts: string[] = [];
  if (opts.title !== undefined) {
    texts.push(`<text x="${GRID.margin}" y="${GRID.margin + GRID.titleFontSize}" font-size="${GRID.titleFontSize}" font-weight="bold" fill="#111">${escapeXml(opts.title)}</text>`);
  }
  const images: OverlayOptions[] = [];
  for (let k = 0; k < shown.length; k++) {
    const item = shown[k];
    const cellLeft = GRID.margin + (k % GRID.cols) * GRID.cellWidth;
    const cellTop = top0 + Math.floor(k / GRID.cols) * (imageSize + GRID.captionHeight);
    images.push({ input: await digitPng(item.pixels, GRID.scale), left: cellLeft + (GRID.cellWidth - imageSize) / 2, top: cellTop });
    // "pred: ... / true: ..." reads better as two centred lines than one line wider than the image.
    const lines = item.caption.split(' / ');
    lines.forEach((line, li) => {
      const y = cellTop + imageSize + GRID.captionFontSize + 4 + li * (GRID.captionFontSize + 4);
      texts.push(
        `<text x="${cellLeft + GRID.cellWidth / 2}" y="${y}" font-size="${GRID.captionFontSize}" text-anchor="middle" fill="${captionColour(item.ok)}">${escapeXml(line)}</text>`,
      );
    });
  }
  if (shown.length === 0) {
    texts.push(`<text x="${width / 2}" y="${(top0 + height) / 2}" font-size="${GRID.titleFontSize}" text-anchor="middle" fill="${COLOURS.empty}">${escapeXml(opts.emptyText ?? 'no images to show')}</text>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}">${texts.join('')}</svg>`;
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite([...images, { input: Buffer.from(svg), left: 0, top: 0 }])
    .png()
    .toBuffer();
}

export async function renderGrid(items: readonly GridItem[], outPng: string, opts: { title?: string; emptyText?: string } = {}): Promise<void> {
  await writeFileAtomic(outPng, await gridPng(items, opts));
}
