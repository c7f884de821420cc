/** Finds (or downloads), reads, validates and checksums the four Fashion-MNIST files. */
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { downloadFashionMnist, type DownloadProgress } from './download.js';
import { DATA_FILE_KEYS, DEFAULT_MIRROR, ENV, FILE_LABELS, FILE_NAMES, OFFICIAL_MD5 } from './files.js';
import { readImageSet } from './idx.js';
import { locateFashionMnist, type LocateOptions } from './locate.js';
import { stderrDownloadProgress } from './progress.js';
import type { DataFileInfo, DataFileKey, DataSource, FashionMnist } from './types.js';

export interface LoadOptions extends LocateOptions {
  /** Refuse files whose uncompressed MD5 differs from the expected one (default true). */
  verify?: boolean;
  /** Download into the cache when no folder has the files (default true). */
  allowDownload?: boolean;
  /** Mirror base URL; default $FASHION_MNIST_MIRROR, else the official mirror. */
  mirror?: string;
  /** Download progress; default a bar (or plain lines) on stderr; null for silence. */
  onProgress?: DownloadProgress | null;
  /** Download inactivity timeout. */
  timeoutMs?: number;
  /** Expected MD5s of the uncompressed files; the official ones by default (tests pass fixture values). */
  expectedMd5?: Partial<Record<DataFileKey, string>>;
}

export async function loadFashionMnist(opts: LoadOptions = {}): Promise<FashionMnist> {
  const env = opts.env ?? process.env;
  const verify = opts.verify !== false;
  const expected: Record<DataFileKey, string> = { ...OFFICIAL_MD5, ...opts.expectedMd5 };

  const located = await locateFashionMnist(opts);
  let step = located.found?.step ?? located.cache;
  let files = located.found?.files;
  let downloaded = false;
  if (!files) {
    const lookedIn = located.tried.map((t) => t.step.dir).join(', ');
    if (opts.allowDownload === false) {
      throw new UserError(`Fashion-MNIST not found (looked in ${lookedIn}) and downloading is off; use --data-dir or $${ENV.dataDir}`);
    }
    const cacheContents = located.tried[located.tried.length - 1].contents;
    const mirror = opts.mirror ?? (env[ENV.mirror] || DEFAULT_MIRROR);
    try {
      await downloadFashionMnist(located.cache.dir, {
        mirror,
        expectedMd5: expected,
        verify,
        onProgress: opts.onProgress === null ? undefined : (opts.onProgress ?? stderrDownloadProgress()),
        timeoutMs: opts.timeoutMs,
        keys: cacheContents.missing,
      });
    } catch (e) {
      if (e instanceof UserError) {
        throw new UserError(`Fashion-MNIST not found (looked in ${lookedIn}) and ${e.message} (use --data-dir or $${ENV.dataDir} for a local copy)`, e.exitCode);
      }
      throw e;
    }
    step = located.cache;
    downloaded = true;
    files = { ...cacheContents.files } as Record<DataFileKey, string>;
    for (const key of cacheContents.missing) files[key] = path.join(located.cache.dir, FILE_NAMES[key]);
  }

  const [train, test] = await Promise.all([
    readImageSet(files.trainImages, files.trainLabels),
    readImageSet(files.testImages, files.testLabels),
  ]);
  const md5: Record<DataFileKey, string> = {
    trainImages: train.imagesMd5,
    trainLabels: train.labelsMd5,
    testImages: test.imagesMd5,
    testLabels: test.labelsMd5,
  };
  const infos = {} as Record<DataFileKey, DataFileInfo>;
  for (const key of DATA_FILE_KEYS) {
    const matches = md5[key] === expected[key];
    if (verify && !matches) {
      throw new UserError(`${path.basename(files[key])}: checksum mismatch: MD5 of the uncompressed content is ${md5[key]}, expected ${expected[key]} (the ${FILE_LABELS[key]}); use --no-verify to load it anyway`);
    }
    infos[key] = { path: files[key], md5: md5[key], verified: verify && matches, expectedMd5: expected[key] };
  }
  const source: DataSource = { kind: step.kind, dir: step.dir, files: infos };
  if (step.kind === 'download') source.downloaded = downloaded;
  return { train: train.set, test: test.set, source };
}

/** How the CLI names each lookup step. */
export const SOURCE_KIND_LABELS: Record<DataSource['kind'], string> = {
  flag: '--data-dir',
  env: `$${ENV.dataDir}`,
  local: './data/fashion-mnist',
  system: 'the system data set folder (Debian package dataset-fashion-mnist)',
  download: 'the download cache',
};
