/**
 * Pixel parallax (pixel-parallax.ts) on a worker thread of its own (parallax-worker.ts), so that
 * a liveness call's pixel tracking never holds up the server's other calls.
 */
import type { ParallaxOptions, PixelParallax } from "./pixel-parallax.js";
import { siblingEntry } from "./start-worker.js";
import { createTaskThread } from "./task-thread.js";
import type { FacePatch } from "./types.js";

/** Two patches to compare, as posted to the thread. */
export interface ParallaxRequest {
  a: FacePatch;
  b: FacePatch;
  options: ParallaxOptions;
}

export interface ParallaxThread {
  /** `measurePixelParallax(a, b, options)`, computed on the thread. */
  measure(
    a: FacePatch,
    b: FacePatch,
    options: ParallaxOptions,
    signal?: AbortSignal,
  ): Promise<PixelParallax>;
  /** Stops the thread; calls in flight are refused. */
  close(): Promise<void>;
}

const WORKER_ENTRY = siblingEntry(import.meta.url, "parallax-worker");

/** A thread started at the first call; pairs are measured one at a time, in order. */
export function createParallaxThread(): ParallaxThread {
  const thread = createTaskThread<ParallaxRequest, PixelParallax>({
    entry: WORKER_ENTRY,
    name: "pixel tracker",
  });
  return {
    measure: (a, b, options, signal) => thread.run({ a, b, options }, [], signal),
    close: () => thread.close(),
  };
}
