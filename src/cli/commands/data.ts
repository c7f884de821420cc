import type { Command } from 'commander';
import {
  CLASS_NAMES, DATA_FILE_KEYS, FILE_LABELS, SOURCE_KIND_LABELS, classCounts, loadFashionMnist,
  type FashionMnist,
} from '../../data/index.js';

interface DataFlags {
  dataDir?: string;
  json?: boolean;
  verify: boolean;
  mirror?: string;
  download: boolean;
}

export function registerData(program: Command): void {
  program
    .command('data')
    .description('where the data set was found (or download it), checksums, and counts per class')
    .option('--data-dir <dir>', 'folder with the four Fashion-MNIST IDX files (.gz or plain)')
    .option('--json', 'print one JSON document on stdout')
    .option('--no-verify', 'load files even if their MD5 differs from the official one')
    .option('--mirror <url>', 'base URL to download from (default $FASHION_MNIST_MIRROR or the official mirror)')
    .option('--no-download', 'fail instead of downloading when no local copy is found')
    .action(async (flags: DataFlags) => {
      const started = performance.now();
      const data = await loadFashionMnist({
        dataDir: flags.dataDir,
        verify: flags.verify,
        mirror: flags.mirror,
        allowDownload: flags.download,
      });
      const loadSeconds = (performance.now() - started) / 1000;
      const { initBackend } = await import('../../backend/index.js');
      const backend = await initBackend();
      const report = dataReport(data, backend.description, loadSeconds);
      if (backend.fallbackReason) report.backendNote = backend.fallbackReason;
      if (flags.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      process.stdout.write(humanReport(report, flags.verify));
    });
}

export interface DataReport {
  source: { kind: string; label: string; dir: string; downloaded?: boolean };
  files: Record<string, { path: string; md5: string; expectedMd5?: string; verified: boolean }>;
  classes: readonly string[];
  train: { count: number; perClass: number[] };
  test: { count: number; perClass: number[] };
  backend: string;
  /** Why the preferred backend is not the one in use, when it is not. */
  backendNote?: string;
  loadSeconds: number;
}

function dataReport(data: FashionMnist, backend: string, loadSeconds: number): DataReport {
  const { kind, dir, files, downloaded } = data.source;
  return {
    source: { kind, label: SOURCE_KIND_LABELS[kind], dir, ...(downloaded === undefined ? {} : { downloaded }) },
    files,
    classes: CLASS_NAMES,
    train: { count: data.train.count, perClass: classCounts(data.train.labels) },
    test: { count: data.test.count, perClass: classCounts(data.test.labels) },
    backend,
    loadSeconds: Math.round(loadSeconds * 1000) / 1000,
  };
}

function humanReport(r: DataReport, verify: boolean): string {
  const lines: string[] = [];
  const how = r.source.kind === 'download' ? (r.source.downloaded ? ' (downloaded now)' : ' (downloaded earlier)') : '';
  lines.push(`Fashion-MNIST found via ${r.source.label}${how}: ${r.source.dir}`);
  lines.push(`loaded in ${r.loadSeconds.toFixed(2)} s`);
  lines.push('');
  for (const key of DATA_FILE_KEYS) {
    const f = r.files[key];
    const matches = f.md5 === f.expectedMd5;
    const status = verify ? 'MD5 verified' : `MD5 not verified (--no-verify)${matches ? ', matches the official one' : ', differs from the official one'}`;
    lines.push(`  ${FILE_LABELS[key].padEnd(12)}  ${f.path}`);
    lines.push(`  ${''.padEnd(12)}  md5 ${f.md5}  ${status}`);
  }
  lines.push('');
  const nameWidth = Math.max(...r.classes.map((c) => c.length)) + 4;
  lines.push(`  ${'class'.padEnd(nameWidth)}${'train'.padStart(7)}${'test'.padStart(7)}`);
  r.classes.forEach((name, i) => {
    lines.push(`  ${`${i} ${name}`.padEnd(nameWidth)}${String(r.train.perClass[i]).padStart(7)}${String(r.test.perClass[i]).padStart(7)}`);
  });
  lines.push(`  ${'total'.padEnd(nameWidth)}${String(r.train.count).padStart(7)}${String(r.test.count).padStart(7)}`);
  lines.push('');
  lines.push(`backend: ${r.backend}`);
  if (r.backendNote) lines.push(`  (${r.backendNote})`);
  return lines.join('\n') + '\n';
}
