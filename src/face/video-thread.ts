/**
 * The video decoder on a worker thread of its own (video-worker.ts): a video takes seconds of
 * ffmpeg WebAssembly, which on the event loop's thread would hold up every other call.
 */
import { siblingEntry } from "./start-worker.js";
import { createTaskThread } from "./task-thread.js";
import type { VideoDecoder, VideoDecoderOptions } from "./video-frames.js";

/** One video to decode, as posted to the thread. */
export interface VideoRequest {
  video: Uint8Array;
  frames: number;
}

export interface VideoDecoderThread extends VideoDecoder {
  /** Stops the thread; calls in flight are refused. */
  close(): Promise<void>;
}

const WORKER_ENTRY = siblingEntry(import.meta.url, "video-worker");

/**
 * Decodes videos on a thread started at the first call (and again after it failed or a call was
 * cancelled: a decode in progress cannot be interrupted, so the thread is stopped). Videos are
 * decoded one at a time, in order; the limits are those of `createVideoDecoder`.
 */
export function createVideoDecoderThread(options: VideoDecoderOptions = {}): VideoDecoderThread {
  const thread = createTaskThread<VideoRequest, Uint8Array[]>({
    entry: WORKER_ENTRY,
    workerData: options,
    name: "video decoder",
  });
  return {
    frames(video, frames, signal) {
      // Copied: the caller's bytes may be a view into memory it keeps using.
      const own = Uint8Array.prototype.slice.call(video);
      return thread.run({ video: own, frames }, [own.buffer], signal);
    },
    close: () => thread.close(),
  };
}
