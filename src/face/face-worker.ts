/**
 * Worker thread entry: one face engine per worker, models loaded and warmed up at start. The
 * pool may hand it a few images at once (`jobsPerWorker`): their models take turns at the
 * engine, while one image decodes or encodes its thumbnail on sharp's threads beside another's
 * models.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createFaceEngine, type EncoderModel, type EngineOptions } from "./engine.js";
import { createEngineTurn } from "./engine-turn.js";
import { resolveModelPaths } from "./model-files.js";
import { type AnalyzeRequest, analyzeImage, type PipelineOptions } from "./pipeline.js";
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
const send = (reply: WorkerReply, transfer: ArrayBuffer[] = []): void =>
  port.postMessage(reply, transfer);

async function start(): Promise<void> {
  const data = workerData as FaceWorkerData;
  const engine = await createFaceEngine(data.engine);
  await engine.warmUp(await loadWarmupSample(resolveModelPaths().humanPackage), data.warmUp);
  const turn = createEngineTurn();
  port.on("message", (message: WorkerRequest) => {
    void run(message.id, message.bytes, message.request);
  });
  send({ type: "ready" });

  async function run(id: number, bytes: Uint8Array, request: AnalyzeRequest): Promise<void> {
    try {
      const result = await analyzeImage(engine, bytes, request, data.pipeline, turn);
      const transfer: ArrayBuffer[] = [];
      const { features, thumbnail } = result.analysis;
      if (features) transfer.push(features.vector.buffer as ArrayBuffer);
      if (thumbnail) transfer.push(thumbnail.buffer as ArrayBuffer);
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
