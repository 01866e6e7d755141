/**
 * The video decoder's thread: decodes one video at a time with libav.js (video-frames.ts) so
 * that ffmpeg's WebAssembly never holds the server's event loop. Started by video-thread.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { FacevaultError } from "../errors.js";
import { createVideoDecoder, type VideoDecoderOptions } from "./video-frames.js";
import type { VideoReply, VideoRequest } from "./video-thread.js";

if (!parentPort) throw new Error("video-worker.ts must run in a worker thread");
const port = parentPort;
const decoder = createVideoDecoder(workerData as VideoDecoderOptions);

port.on("message", async (request: VideoRequest) => {
  let reply: VideoReply;
  try {
    const frames = await decoder.frames(request.video, request.frames);
    reply = { id: request.id, frames };
    port.postMessage(
      reply,
      frames.map((f) => f.buffer as ArrayBuffer),
    );
  } catch (err) {
    reply =
      err instanceof FacevaultError
        ? { id: request.id, error: { kind: err.kind, message: err.message, field: err.field } }
        : { id: request.id, error: { kind: "internal", message: "video decoding failed" } };
    port.postMessage(reply);
  }
});
