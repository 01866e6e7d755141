/**
 * The video decoder on a worker thread of its own (video-worker.ts): a video takes seconds of
 * ffmpeg WebAssembly, which on the event loop's thread would hold up every other call.
 */
import type { Worker } from "node:worker_threads";
import { type ErrorKind, FacevaultError } from "../errors.js";
import { startWorker } from "./start-worker.js";
import type { VideoDecoder, VideoDecoderOptions } from "./video-frames.js";

/** One video to decode, as posted to the thread. */
export interface VideoRequest {
  id: number;
  video: Uint8Array;
  frames: number;
}

/** The thread's answer: JPEG frames, or the error a caller should see. */
export type VideoReply =
  | { id: number; frames: Uint8Array[] }
  | { id: number; error: { kind: ErrorKind; message: string; field?: string | undefined } };

export interface VideoDecoderThread extends VideoDecoder {
  /** Stops the thread; calls in flight are refused. */
  close(): Promise<void>;
}

/** The worker entry beside this module: the .ts source under vitest/tsx, else the .js file. */
const WORKER_ENTRY = new URL(
  import.meta.url.endsWith(".ts") ? "./video-worker.ts" : "./video-worker.js",
  import.meta.url,
);

interface Pending {
  resolve(frames: Uint8Array[]): void;
  reject(err: Error): void;
}

/**
 * Decodes videos on a thread started at the first call (and again after it failed or a call was
 * cancelled: a decode in progress cannot be interrupted, so the thread is stopped). Videos are
 * decoded one at a time, in order; the limits are those of `createVideoDecoder`.
 */
export function createVideoDecoderThread(options: VideoDecoderOptions = {}): VideoDecoderThread {
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, Pending>();

  function failAll(err: Error): void {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  }

  function stop(): void {
    const stopping = worker;
    worker = undefined;
    void stopping?.terminate();
  }

  function thread(): Worker {
    if (worker) return worker;
    const started = startWorker(WORKER_ENTRY, options);
    started.unref();
    started.on("message", (reply: VideoReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if ("frames" in reply) p.resolve(reply.frames.map((f) => new Uint8Array(f)));
      else {
        const { kind, message, field } = reply.error;
        p.reject(new FacevaultError(kind, message, field === undefined ? {} : { field }));
      }
    });
    // A thread stopped on purpose has already failed its calls; only the current one counts.
    const died = () => {
      if (worker !== started) return;
      worker = undefined;
      failAll(new FacevaultError("unavailable", "the video decoder stopped; retry"));
    };
    started.on("error", died);
    started.on("exit", died);
    worker = started;
    return started;
  }

  return {
    frames(video, frames, signal) {
      signal?.throwIfAborted();
      const id = ++nextId;
      return new Promise<Uint8Array[]>((resolve, reject) => {
        const onAbort = () => {
          pending.delete(id);
          reject(signal?.reason ?? new FacevaultError("cancelled", "the call was cancelled"));
          // The thread may be decoding this video: stop it rather than let it run on.
          failAll(new FacevaultError("unavailable", "the video decoder restarted; retry"));
          stop();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        pending.set(id, {
          resolve: (f) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(f);
          },
          reject: (err) => {
            signal?.removeEventListener("abort", onAbort);
            reject(err);
          },
        });
        // Copied: the caller's bytes may be a view into memory it keeps using.
        const own = Uint8Array.prototype.slice.call(video);
        thread().postMessage({ id, video: own, frames } satisfies VideoRequest, [own.buffer]);
      });
    },
    async close() {
      failAll(new FacevaultError("unavailable", "the server is stopping"));
      stop();
    },
  };
}
