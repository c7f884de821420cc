/**
 * A photo file or upload to the model's 28x28 frame: decoding with sharp, then the configured
 * mode (preprocess.ts's object finding for 'mask' and 'hybrid', paper.ts for 'paper').
 */
import sharp from 'sharp';
import { resolvePreprocessConfig, type PreprocessConfig, type PreprocessOverride } from './config.js';
import { loadImage } from './decode.js';
import type { Box } from './mask.js';
import { preprocessPaper } from './paper.js';
import { preprocessRgb, type FrameRenderer, type PreprocessedImage } from './preprocess.js';

function scaleBox(box: Box, sx: number, sy: number): Box {
  const x = Math.floor(box.x * sx);
  const y = Math.floor(box.y * sy);
  return { x, y, width: Math.ceil((box.x + box.width) * sx) - x, height: Math.ceil((box.y + box.height) * sy) - y };
}

/**
 * The paper's rendering ('hybrid' mode): sharp's subsampling and its Gaussian sharpening, as
 * paper.ts does them. Other kernels are resampled in TypeScript (resample.ts).
 */
function sharpRenderer(config: PreprocessConfig): FrameRenderer | undefined {
  if (config.kernel !== 'nearest' && config.sharpenSigma <= 0) return undefined;
  return async (crop, width, height, toWidth, toHeight) => {
    let pipeline = sharp(crop, { raw: { width, height, channels: 1 } }).resize(toWidth, toHeight, { fit: 'fill', kernel: config.kernel });
    if (config.sharpenSigma > 0) pipeline = pipeline.sharpen({ sigma: config.sharpenSigma });
    return pipeline.extractChannel(0).raw({ depth: 'uchar' }).toBuffer();
  };
}

/**
 * Decodes an image (path or bytes) and brings it to Fashion-MNIST's form with the configured mode.
 * Throws `UserError` with one line when the input is not a usable image.
 */
export async function preprocessImage(input: Buffer | string, override?: PreprocessOverride): Promise<PreprocessedImage> {
  const config = resolvePreprocessConfig(override);
  const paper = config.mode === 'paper';
  const decoded = paper ? await loadImage(input, config.limits, config.paper.maxSide, 'nearest') : await loadImage(input, config.limits, config.workingSize);
  const { pixels, info } = paper ? await preprocessPaper(decoded.rgb, config) : await preprocessRgb(decoded.rgb, config, sharpRenderer(config));
  const sx = decoded.source.width / decoded.rgb.width;
  const sy = decoded.source.height / decoded.rgb.height;
  return { pixels, info: { ...info, source: decoded.source, box: scaleBox(info.box, sx, sy) } };
}
