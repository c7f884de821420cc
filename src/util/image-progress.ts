/**
 * Progress through a long pass over images (features, a teacher's answers): a cli-progress bar
 * with rate and ETA on a terminal, a plain line every 15 s elsewhere (a log file or a sweep's
 * pipe, where a redrawn bar would be noise).
 */
import cliProgress from 'cli-progress';

const LINE_EVERY_MS = 15_000;

export class ImageProgress {
  private readonly started = Date.now();
  private lastLine = this.started;
  private readonly bar: cliProgress.SingleBar | null;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.bar = stream.isTTY
      ? new cliProgress.SingleBar({ stream, format: `${label} |{bar}| {value}/{total} images | {rate} img/s | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic)
      : null;
    this.bar?.start(total, 0, { rate: '-' });
  }

  update(done: number): void {
    const rate = done / Math.max(1e-3, (Date.now() - this.started) / 1000);
    this.bar?.update(done, { rate: rate.toFixed(0) });
    if (!this.bar && Date.now() - this.lastLine > LINE_EVERY_MS) {
      this.lastLine = Date.now();
      this.stream.write(`  ${this.label}: ${done}/${this.total} images, ${rate.toFixed(0)} img/s, ETA ${Math.round((this.total - done) / rate)}s\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}

/** Lets a stop request or a signal run between two batches of a synchronous pass. */
export const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));
