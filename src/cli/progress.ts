import { Presets, SingleBar } from "cli-progress";

export interface Progress {
  /** One more item finished. */
  tick(failed: boolean): void;
  stop(): void;
}

export interface ProgressOptions {
  /** What is counted, e.g. "images". */
  unit: string;
  /** Label before the bar, e.g. "enroll". */
  label: string;
  total: number;
  /** Items already finished by an earlier run (shown, not counted in the rate). */
  start: number;
  /** Where it goes. Default process.stdout; process.stderr when `json` is set. */
  stream?: NodeJS.WriteStream;
  /** Stdout carries JSON for a script: the progress goes to stderr. */
  json?: boolean;
  /** A bar when the stream is a terminal; else plain lines. Default: the stream's isTTY. */
  tty?: boolean;
  /** Plain lines: one every this many items. Default: every 5% of the total (at least 1). */
  lineEvery?: number;
}

/**
 * A progress display: a cli-progress bar with items/s and ETA on a terminal, plain lines
 * (`label: done/total unit, rate, ETA`) otherwise, so logs of a CI job or a pipe stay readable.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? (options.json ? process.stderr : process.stdout);
  const tty = options.tty ?? Boolean(stream.isTTY);
  const started = performance.now();
  let done = options.start;
  let failed = 0;
  const rate = () => {
    const seconds = (performance.now() - started) / 1000;
    return seconds > 0 ? (done - options.start) / seconds : 0;
  };
  if (tty) {
    const bar = new SingleBar(
      {
        stream,
        format: `${options.label} [{bar}] {value}/{total} ${options.unit} | {rate} ${options.unit}/s | ETA {eta_formatted} | failed {failed}`,
        etaBuffer: 50,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    bar.start(options.total, done, { rate: "0.0", failed: 0 });
    return {
      tick(f) {
        done++;
        if (f) failed++;
        bar.update(done, { rate: rate().toFixed(1), failed });
      },
      stop: () => bar.stop(),
    };
  }
  const every = options.lineEvery ?? Math.max(1, Math.round(options.total / 20));
  const line = () => {
    const r = rate();
    const eta = r > 0 ? `${Math.ceil((options.total - done) / r)} s` : "-";
    stream.write(
      `${options.label}: ${done}/${options.total} ${options.unit}, ${r.toFixed(1)} ${options.unit}/s, ETA ${eta}, failed ${failed}\n`,
    );
  };
  return {
    tick(f) {
      done++;
      if (f) failed++;
      if (done % every === 0 || done === options.total) line();
    },
    stop: () => undefined,
  };
}
