/**
 * The pixel-parallax thread: tracks the face's pixels between two patches (pixel-parallax.ts),
 * tens to hundreds of milliseconds that would otherwise hold the server's event loop. Started by
 * parallax-thread.ts.
 */
import { parentPort } from "node:worker_threads";
import type { ParallaxRequest } from "./parallax-thread.js";
import { measurePixelParallax, type PixelParallax } from "./pixel-parallax.js";
import { serveTasks } from "./task-thread.js";

if (!parentPort) throw new Error("parallax-worker.ts must run in a worker thread");

serveTasks<ParallaxRequest, PixelParallax>(parentPort, "pixel tracker", async (request) => ({
  result: measurePixelParallax(request.a, request.b, request.options),
}));
