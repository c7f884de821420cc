/** The typed values the data stage hands to the rest of the pipeline. */

export const CLASS_NAMES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;
export const NUM_CLASSES = CLASS_NAMES.length;
export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

/** Raw images as stored in the IDX files: uint8, row-major, `count` x rows x cols. */
export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export type DataFileKey = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';

export interface DataFileInfo {
  path: string;
  /** MD5 of the uncompressed content. */
  md5: string;
  verified: boolean;
  /** The MD5 it was (or, with verification off, would have been) checked against. */
  expectedMd5?: string;
}

export interface DataSource {
  /** Which step of the lookup order found the files. */
  kind: 'flag' | 'env' | 'local' | 'system' | 'download';
  dir: string;
  files: Record<DataFileKey, DataFileInfo>;
  /** kind 'download': true when this load fetched files, false when they were already in the cache. */
  downloaded?: boolean;
}

export interface FashionMnist {
  train: ImageSet;
  test: ImageSet;
  source: DataSource;
}

/** [height, width, channels] of one image. */
export type ImageShape = readonly [height: number, width: number, channels: number];

/** Fashion-MNIST's images: 28x28 grey. */
export const FASHION_SHAPE: ImageShape = [IMAGE_SIZE, IMAGE_SIZE, 1];

/** Model-ready examples: pixels as float32 in [0,1] (N x height x width x channels, NHWC) and integer labels. */
export interface Examples {
  x: Float32Array;
  /** The shape of one image; x holds count x shape[0] x shape[1] x shape[2] values. */
  shape: ImageShape;
  y: Uint8Array;
  count: number;
  /** Index of each example in the set it came from (e.g. the 60k training file). */
  indices: Uint32Array;
}

export interface TrainValSplit {
  train: Examples;
  val: Examples;
}
