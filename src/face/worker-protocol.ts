import type { AnalyzeRequest, PipelineResult } from "./pipeline.js";

/** Pool → worker: analyse one image. */
export interface WorkerRequest {
  id: number;
  bytes: Uint8Array;
  request: AnalyzeRequest;
}

/** Worker → pool. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "start-failed"; message: string }
  | { type: "result"; id: number; result: PipelineResult }
  | { type: "failed"; id: number; message: string };
