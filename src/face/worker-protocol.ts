import type { DecodedImage } from "./decode.js";
import type { AnalyzeRequest, ModelResult } from "./pipeline.js";

/** Pool → worker: run the models on one decoded image. */
export interface WorkerRequest {
  id: number;
  decoded: DecodedImage;
  request: AnalyzeRequest;
}

/** Worker → pool. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "start-failed"; message: string }
  | { type: "result"; id: number; result: ModelResult }
  | { type: "failed"; id: number; message: string };
