/**
 * A progress bar per epoch (cli-progress) with loss, accuracy and ETA on a terminal; plain lines
 * when stderr is not a TTY (CI logs, files). Always on stderr: stdout is kept for --json.
 */
import cliProgress from 'cli-progress';
import type { BatchInfo, EpochInfo, TrainCallback } from './callbacks.js';
import type { HistoryRow } from '../runs/types.js';
import { metric } from '../util/format.js';

const fmt = metric;

export class ProgressDisplay implements TrainCallback {
  private bar: cliProgress.SingleBar | null = null;
  private lastPlain = 0;
  private epochStart = 0;

  constructor(private readonly label: string, private readonly stream: NodeJS.WriteStream = process.stderr, private readonly tty = Boolean(process.stderr.isTTY)) {}

  onEpochBegin(_ctl: unknown, info: EpochInfo): void {
    this.epochStart = Date.now();
    const title = `${this.label} ${info.phase === 'base' ? 'phase 1' : 'phase 2 (augmented)'} epoch ${info.epochInPhase}/${info.phaseEpochs}`;
    if (this.tty) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `${title} |{bar}| {value}/{total} | loss {loss} acc {acc} | ETA {eta_formatted}`,
          stream: this.stream,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(info.steps, 0, { loss: '-', acc: '-' });
    } else {
      this.stream.write(`${title}: ${info.steps} steps\n`);
      this.lastPlain = Date.now();
    }
  }

  onBatchEnd(_ctl: unknown, b: BatchInfo): void {
    if (this.bar) {
      this.bar.update(b.step, { loss: fmt(b.loss), acc: fmt(b.acc) });
    } else if (Date.now() - this.lastPlain > 15_000) {
      this.lastPlain = Date.now();
      const elapsed = (Date.now() - this.epochStart) / 1000;
      const eta = (elapsed / b.step) * (b.steps - b.step);
      this.stream.write(`  step ${b.step}/${b.steps} loss ${fmt(b.loss)} acc ${fmt(b.acc)} ETA ${Math.round(eta)}s\n`);
    }
  }

  onEpochEnd(_ctl: unknown, row: HistoryRow): void {
    this.bar?.stop();
    this.bar = null;
    this.stream.write(
      `${this.label} epoch ${row.epoch} [${row.phase}] loss ${fmt(row.loss)} acc ${fmt(row.acc)} val_loss ${fmt(row.val_loss)} val_acc ${fmt(row.val_acc)} (${row.seconds.toFixed(1)} s)\n`,
    );
  }
}
