/**
 * The video decoder's thread: decodes one video at a time with libav.js (video-frames.ts) so
 * that ffmpeg's WebAssembly never holds the server's event loop. Started by video-thread.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { disableSharpCache } from "./sharp-cache.js";
import { serveTasks } from "./task-thread.js";
import { createVideoDecoder, type VideoDecoderOptions } from "./video-frames.js";
import type { VideoRequest } from "./video-thread.js";

if (!parentPort) throw new Error("video-worker.ts must run in a worker thread");
// loading sharp (video-frames.ts) in this thread reset the process-wide cache setting
disableSharpCache();
const decoder = createVideoDecoder(workerData as VideoDecoderOptions);

serveTasks<VideoRequest, Uint8Array[]>(parentPort, "video decoder", async (request) => {
  const frames = await decoder.frames(request.video, request.frames);
  return { result: frames, transfer: frames.map((f) => f.buffer as ArrayBuffer) };
});
