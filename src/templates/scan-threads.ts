/**
 * Threads that share a search scan with the thread that owns the partition's rows. The rows
 * live in shared WebAssembly memory, so a scan thread reads them in place: the owner hands each
 * thread a range, scans its own range meanwhile, then blocks (Atomics.wait, bounded) until the
 * threads are done. The scan stays synchronous for the owner, so no row can change under it.
 */

import type { Worker } from "node:worker_threads";
import { MessageChannel, type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import type { Logger } from "pino";
import { siblingEntry, startWorker } from "../face/start-worker.js";
import type { ProbeBound, RowLayout, ScanCandidate } from "./scan-range.js";

/** Default longest wait for a scan thread's share before the owner scans it itself (ms). */
export const DEFAULT_SCAN_THREAD_TIMEOUT_MS = 5000;
/** Fewest rows worth a thread's share: below it the messages cost more than the scan saves. */
const MIN_ROWS_PER_THREAD = 16_384;

/** One share of a scan, as posted to a scan thread. */
export interface ScanRequest {
  seq: number;
  memory: WebAssembly.Memory;
  layout: RowLayout;
  probe: ProbeBound;
  minGain: number;
  limit: number;
  from: number;
  to: number;
  /** The thread's own scratch for the kernel's (row, dot) pairs. */
  outAt: number;
}

/** A scan thread's answer: its share's candidates, or what went wrong. */
export type ScanResponse =
  | { seq: number; candidates: ScanCandidate[] }
  | { seq: number; error: string };

export interface ScanThreadsOptions {
  /** Scan threads besides the owning thread; 0 scans on the owning thread alone. Default 1. */
  threads?: number;
  /** Longest wait for a thread's share (ms) before the owner scans it itself. Default 5000. */
  timeoutMs?: number;
  logger: Logger;
}

/** What the owner asks of the threads for one scan. */
export interface SharedScan {
  memory: WebAssembly.Memory;
  layout: RowLayout;
  probe: ProbeBound;
  minGain: number;
  limit: number;
  /** Rows [0, rows) are scanned. */
  rows: number;
  /** Scratch for thread i's pairs (i = 1..threads); index 0 is the owner's. */
  outAt: readonly number[];
}

export interface ScanThreads {
  /** Scan threads configured (scratch areas a row set reserves beside the owner's). */
  readonly threads: number;
  /**
   * Splits rows [0, rows) into shares, posts all but the first to ready threads, scans the
   * first with `scanOwn(from, to)`, waits for the others, and returns every share's candidates.
   * A share whose thread fails or exceeds the timeout is scanned by `scanOwn` too.
   */
  scan(job: SharedScan, scanOwn: (from: number, to: number) => ScanCandidate[]): ScanCandidate[][];
  /** Resolves once every thread takes work (or has failed to start). */
  ready(): Promise<void>;
  /** Shares answered by a scan thread, and shares the owner scanned after a thread failed. */
  stats(): { shares: number; fallbacks: number };
  /** Stops the threads. */
  close(): Promise<void>;
}

interface ScanThread {
  worker: Worker;
  port: MessagePort;
  slot: number;
  broken: boolean;
}

const WORKER_ENTRY = siblingEntry(import.meta.url, "scan-worker");

/**
 * Creates the scan threads. They start with the first scan large enough to share (or `ready()`),
 * so a server whose partitions are small never starts them, and take work once they have
 * started; until then the owner scans alone. They never keep the process alive.
 */
export function createScanThreads(options: ScanThreadsOptions): ScanThreads {
  const count = options.threads ?? 1;
  const timeoutMs = options.timeoutMs ?? DEFAULT_SCAN_THREAD_TIMEOUT_MS;
  const log = options.logger.child({ component: "scan-threads" });
  // Slot i: completions of thread i; slot count + i: 1 once thread i listens.
  const control = new Int32Array(new SharedArrayBuffer(8 * Math.max(count, 1)));
  let seq = 0;
  let closed = false;
  let shares = 0;
  let fallbacks = 0;
  const threads: ScanThread[] = [];

  function start(slot: number): ScanThread {
    const channel = new MessageChannel();
    const worker = startWorker(WORKER_ENTRY, { port: channel.port2, control, slot }, [
      channel.port2,
    ]);
    const thread: ScanThread = { worker, port: channel.port1, slot, broken: false };
    worker.unref();
    worker.on("error", (err) => {
      log.error({ err, slot }, "scan thread failed");
      thread.broken = true;
    });
    worker.on("exit", () => {
      thread.broken = true;
      const wasReady = Atomics.exchange(control, count + slot, 0) === 1;
      // A thread that never started would fail the same way again: the owner scans alone.
      if (!closed && wasReady) threads[slot] = start(slot);
    });
    return thread;
  }
  /** Starts the threads once: on the first scan large enough to share, or `ready()`. */
  function startAll(): void {
    if (threads.length > 0 || closed) return;
    for (let i = 0; i < count; i++) threads.push(start(i));
  }

  function ready(thread: ScanThread): boolean {
    return !thread.broken && Atomics.load(control, count + thread.slot) === 1;
  }

  /** The thread's answer to `request`, or undefined after the timeout or an error. */
  function collect(thread: ScanThread, request: number, before: number, deadline: number) {
    while (Atomics.load(control, thread.slot) === before) {
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(control, thread.slot, before, left) === "timed-out") break;
    }
    for (;;) {
      const received = receiveMessageOnPort(thread.port);
      if (received === undefined) return undefined;
      const response = received.message as ScanResponse;
      if (response.seq !== request) continue; // a late answer to an abandoned request
      if ("error" in response) {
        log.error({ slot: thread.slot, error: response.error }, "scan thread share failed");
        return undefined;
      }
      return response.candidates;
    }
  }

  return {
    threads: count,
    scan(job, scanOwn) {
      if (job.rows >= 2 * MIN_ROWS_PER_THREAD) startAll();
      const helpers = threads.filter(ready);
      const split = Math.min(helpers.length + 1, Math.floor(job.rows / MIN_ROWS_PER_THREAD));
      if (split <= 1) return [scanOwn(0, job.rows)];
      const bounds = (i: number) => Math.round((job.rows * i) / split);
      const posted = helpers.slice(0, split - 1).map((thread, i) => {
        const request = ++seq;
        const before = Atomics.load(control, thread.slot);
        const from = bounds(i + 1);
        const to = bounds(i + 2);
        const message: ScanRequest = {
          seq: request,
          memory: job.memory,
          layout: job.layout,
          probe: job.probe,
          minGain: job.minGain,
          limit: job.limit,
          from,
          to,
          outAt: job.outAt[thread.slot + 1] as number,
        };
        thread.port.postMessage(message);
        return { thread, request, before, from, to };
      });
      const parts = [scanOwn(0, bounds(1))];
      const deadline = performance.now() + timeoutMs;
      for (const p of posted) {
        const found = collect(p.thread, p.request, p.before, deadline);
        if (found) {
          shares++;
          parts.push(found);
          continue;
        }
        fallbacks++;
        log.warn({ slot: p.thread.slot, timeoutMs }, "scan thread did not answer; scanned here");
        parts.push(scanOwn(p.from, p.to));
      }
      return parts;
    },
    async ready() {
      startAll();
      while (!closed && threads.some((t) => !t.broken && !ready(t))) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    stats: () => ({ shares, fallbacks }),
    async close() {
      closed = true;
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}
