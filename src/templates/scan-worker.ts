/**
 * A scan thread: runs its share of a search scan (scan-range.ts) on a partition's shared memory
 * and posts the candidates back. Started by scan-threads.ts; the owning thread waits for it.
 */
import { type MessagePort, workerData } from "node:worker_threads";
import { compileScanKernel } from "./quantized-rows.js";
import { instantiateScanKernel, scanRange } from "./scan-range.js";
import type { ScanRequest, ScanResponse } from "./scan-threads.js";

const { port, control, slot } = workerData as {
  port: MessagePort;
  control: Int32Array;
  slot: number;
};
const module = compileScanKernel();

port.on("message", (request: ScanRequest) => {
  let response: ScanResponse;
  try {
    // One instance per request: holding none keeps no dropped partition's memory alive.
    const kernel = instantiateScanKernel(module, request.memory);
    const candidates = scanRange(
      kernel,
      request.memory,
      request.layout,
      request.probe,
      request.minGain,
      request.limit,
      request.from,
      request.to,
      request.outAt,
    );
    response = { seq: request.seq, candidates };
  } catch (err) {
    response = { seq: request.seq, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(response);
  Atomics.add(control, slot, 1);
  Atomics.notify(control, slot);
});
// Ready: the owning thread hands this thread work only from now on.
Atomics.store(control, control.length / 2 + slot, 1);
