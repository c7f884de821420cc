/** The four files of Fashion-MNIST, their official checksums and where a download comes from. */
import type { DataFileKey } from './types.js';

export const DATA_FILE_KEYS: readonly DataFileKey[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

/** File names as published (gzip); the same names without `.gz` are accepted for plain IDX files. */
export const FILE_NAMES: Record<DataFileKey, string> = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};

/**
 * MD5 of the UNCOMPRESSED files. Checked against the uncompressed content because repackagers
 * (Debian's dataset-fashion-mnist) recompress the .gz files, which changes their own checksums.
 * Measured on the Debian files (whose headers say 60,000 / 10,000 items) and matching the values
 * torchvision and others publish per file name. Note: DESIGN.md lists train and test swapped.
 */
export const OFFICIAL_MD5: Record<DataFileKey, string> = {
  trainImages: 'f4a8712d7a061bf5bd6d2ca38dc4d50a',
  trainLabels: '9018921c3c673c538a1fc5bad174d6f9',
  testImages: '8181f5470baa50b63fa0f6fddb340f0a',
  testLabels: '15d484375f8d13e6eb1aabb0c3f46965',
};

export const DEFAULT_MIRROR = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

export const ENV = {
  dataDir: 'FASHION_MNIST_DIR',
  mirror: 'FASHION_MNIST_MIRROR',
  cache: 'FASHION_CNN_CACHE',
} as const;

export const LOCAL_DATA_DIR = 'data/fashion-mnist';
export const SYSTEM_DATA_DIR = '/usr/share/datasets/fashion-mnist';

/** Short names for messages and tables. */
export const FILE_LABELS: Record<DataFileKey, string> = {
  trainImages: 'train images',
  trainLabels: 'train labels',
  testImages: 'test images',
  testLabels: 'test labels',
};
