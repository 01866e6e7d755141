/**
 * Worker thread entry: one face engine per worker, models loaded and warmed up at start. It gets
 * decoded pixels and answers with the thumbnail's pixels: decoding and PNG encoding run on the
 * pool's thread, because their completions would wait here behind another image's models (which
 * hold this thread's event loop for 100 ms and more) and leave the engine idle. The pool may
 * hand it a few images at once (`jobsPerWorker`); their models take turns at the engine.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { DecodedImage } from "./decode.js";
import { createFaceEngine, type EncoderModel, type EngineOptions } from "./engine.js";
import { createEngineTurn } from "./engine-turn.js";
import { resolveModelPaths } from "./model-files.js";
import { type AnalyzeRequest, analyzeDecoded, type PipelineOptions } from "./pipeline.js";
import { disableSharpCache } from "./sharp-cache.js";
import { loadWarmupSample } from "./warmup-sample.js";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.js";

/** What the pool hands every worker. */
export interface FaceWorkerData {
  engine: EngineOptions;
  pipeline: PipelineOptions;
  /** Models warmed up at start: the default encoder's (others warm up on first use). */
  warmUp: EncoderModel[];
}

if (!parentPort) throw new Error("face-worker.ts must run in a worker thread");
const port = parentPort;
// this thread's sharp (the warm-up sample) reset the process-wide cache setting when it loaded
disableSharpCache();
const send = (reply: WorkerReply, transfer: ArrayBuffer[] = []): void =>
  port.postMessage(reply, transfer);

async function start(): Promise<void> {
  const data = workerData as FaceWorkerData;
  const engine = await createFaceEngine(data.engine);
  await engine.warmUp(await loadWarmupSample(resolveModelPaths().humanPackage), data.warmUp);
  const turn = createEngineTurn();
  port.on("message", (message: WorkerRequest) => {
    void run(message.id, message.decoded, message.request);
  });
  send({ type: "ready" });

  async function run(id: number, decoded: DecodedImage, request: AnalyzeRequest): Promise<void> {
    try {
      const result = await analyzeDecoded(engine, decoded, request, data.pipeline, turn);
      const transfer: ArrayBuffer[] = [];
      const { features } = result.analysis;
      if (features) transfer.push(features.vector.buffer as ArrayBuffer);
      if (result.thumbnailPixels) transfer.push(result.thumbnailPixels.data.buffer as ArrayBuffer);
      const { geometry } = result.analysis;
      if (geometry) transfer.push(geometry.mesh.buffer as ArrayBuffer);
      if (geometry?.patch) {
        transfer.push(geometry.patch.pixels.buffer as ArrayBuffer);
        transfer.push(geometry.patch.mesh.buffer as ArrayBuffer);
      }
      send({ type: "result", id, result }, transfer);
    } catch (err) {
      send({ type: "failed", id, message: err instanceof Error ? err.message : String(err) });
    }
  }
}

start().catch((err: unknown) => {
  send({ type: "start-failed", message: err instanceof Error ? err.message : String(err) });
});
