/**
 * Shows download progress on stderr: a cli-progress bar on a terminal, and a few plain lines
 * (start, every quarter, done) when stderr is a file or pipe, where redrawn bars would be noise.
 */
import cliProgress from 'cli-progress';
import type { DownloadProgress, DownloadProgressEvent } from './download.js';

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

export function stderrDownloadProgress(stream: NodeJS.WriteStream = process.stderr): DownloadProgress {
  return stream.isTTY ? barProgress(stream) : lineProgress(stream);
}

function barProgress(stream: NodeJS.WriteStream): DownloadProgress {
  let bar: cliProgress.SingleBar | null = null;
  let current = '';
  return (e: DownloadProgressEvent) => {
    if (e.file !== current || !bar) {
      bar?.stop();
      current = e.file;
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${e.file} [{bar}] {percentage}% | {got}/{size} MB | ETA {eta_formatted}`,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(e.total ?? 0, 0, { got: mb(0), size: e.total === null ? '?' : mb(e.total) });
    }
    if (e.total !== null && e.total !== bar.getTotal()) bar.setTotal(e.total);
    bar.update(e.received, { got: mb(e.received), size: e.total === null ? '?' : mb(e.total) });
    if (e.done) {
      bar.stop();
      bar = null;
      current = '';
    }
  };
}

function lineProgress(stream: NodeJS.WritableStream): DownloadProgress {
  let lastQuarter = -1;
  let current = '';
  return (e: DownloadProgressEvent) => {
    if (e.file !== current) {
      current = e.file;
      lastQuarter = 0;
      stream.write(`downloading ${e.url}${e.total === null ? '' : ` (${mb(e.total)} MB)`}\n`);
    }
    if (e.done) {
      stream.write(`  ${e.file}: done, ${mb(e.received)} MB\n`);
      current = '';
      return;
    }
    if (e.total) {
      const quarter = Math.floor((4 * e.received) / e.total);
      if (quarter > lastQuarter && quarter < 4) {
        lastQuarter = quarter;
        stream.write(`  ${e.file}: ${quarter * 25}% (${mb(e.received)} of ${mb(e.total)} MB)\n`);
      }
    }
  };
}
