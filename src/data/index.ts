/** The data stage: find, download, read, verify and split Fashion-MNIST. */
export * from './types.js';
export { DATA_FILE_KEYS, FILE_NAMES, FILE_LABELS, OFFICIAL_MD5, DEFAULT_MIRROR, ENV as DATA_ENV, LOCAL_DATA_DIR, SYSTEM_DATA_DIR } from './files.js';
export { readIdx, readImagesIdx, readLabelsIdx, readImageSet, parseIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, type IdxArray } from './idx.js';
export { cacheRoot, lookupSteps, locateFashionMnist, type LocateOptions, type LookupStep } from './locate.js';
export { downloadFile, downloadToFile, downloadFashionMnist, type DownloadProgress, type DownloadProgressEvent } from './download.js';
export { stderrDownloadProgress } from './progress.js';
export { loadFashionMnist, SOURCE_KIND_LABELS, type LoadOptions } from './load.js';
export { splitTrainVal, splitSizes, toExamples, classCounts, type SplitOptions, type SplitSizes } from './split.js';
