/**
 * Shared rendering plumbing: Vega-Lite spec -> SVG (headless, no browser or canvas) and SVG -> PNG
 * (sharp's librsvg, which finds the system's DejaVu fonts through fontconfig).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import sharp from 'sharp';
import { writeFileAtomic } from '../util/atomic.js';

/** The font every picture uses: installed with fonts-dejavu-core, so librsvg draws what vega measured. */
export const FONT = 'DejaVu Sans';

/** 144 dpi = 2x the SVG's CSS pixels: text stays crisp when the PNG is viewed at full size. */
export const PNG_DENSITY = 144;
export const PNG_SCALE = PNG_DENSITY / 72;

/** Config shared by every chart, so the pictures of a run look like one family. */
export const CHART_CONFIG = {
  font: FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 15, subtitleFontSize: 12, anchor: 'start' as const, offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 12, titleFontSize: 12 },
};

export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  // renderer 'none': no canvas or DOM needed; toSVG() builds the markup from the scenegraph.
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function svgToPng(svg: string, density = PNG_DENSITY): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density }).png().toBuffer();
}

/** Writes an SVG and its PNG rendering, each atomically. */
export async function writeSvgAndPng(svg: string, out: { svg: string; png: string }): Promise<void> {
  await writeFileAtomic(out.svg, svg);
  await writeFileAtomic(out.png, await svgToPng(svg));
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

/**
 * A generous width estimate for a line of DejaVu Sans, so hand-laid-out pictures leave room for
 * their text (librsvg draws it; nothing here can measure it first).
 */
export function estimateTextWidth(text: string, fontSize: number, bold = false): number {
  return Math.ceil(text.length * fontSize * (bold ? 0.64 : 0.58));
}
