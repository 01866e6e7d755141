/**
 * The pool's contract under load and failure, with the real engine on one worker: a bounded
 * queue, cancellation, a crashed worker replaced, encoder versions per call.
 */
import type { Worker } from "node:worker_threads";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFacevaultError } from "../../src/errors.js";
import { createFacePool } from "../../src/face/face-pool.js";
import { fixtureBytes } from "./fixtures.js";

const workers: Worker[] = [];
// One image per worker at a time keeps the queue arithmetic below exact; two are tested last.
const pool = createFacePool({
  workers: 1,
  maxQueue: 4,
  jobsPerWorker: 1,
  onWorkerStart: (w) => workers.push(w),
});
beforeAll(() => pool.ready());
afterAll(() => pool.close());

const photo = fixtureBytes("people/obama/01.jpg");
const images = (n: number): Uint8Array[] => Array.from({ length: n }, () => photo);

/** Resolves once `predicate` holds, polling the pool's stats. */
async function until(predicate: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: unknown) => err,
  );
}

describe("face pool", () => {
  it("is ready with one warmed-up worker", () => {
    expect(pool.stats()).toEqual({ workers: 1, queued: 0, running: 0 });
    expect(workers).toHaveLength(1);
  });

  it("refuses work at once with 'unavailable' when the queue is full", async () => {
    const first = pool.analyze(images(4)); // one runs, three wait
    const second = pool.analyze(images(1)); // the fourth waiting place
    expect(pool.stats()).toMatchObject({ running: 1, queued: 4 });
    const started = Date.now();
    const refused = await rejection(pool.analyze(images(1)));
    expect(Date.now() - started).toBeLessThan(50);
    expect(isFacevaultError(refused, "unavailable")).toBe(true);
    expect((refused as Error).message).toMatch(/queue is full/);
    const tooMany = await rejection(pool.analyze(images(5)));
    expect(isFacevaultError(tooMany, "resource_exhausted")).toBe(true);
    expect(await first).toHaveLength(4);
    expect(await second).toHaveLength(1);
    expect(pool.stats()).toMatchObject({ queued: 0, running: 0 });
  });

  it("drops the queued images of an aborted call and rejects it with the signal's reason", async () => {
    const running = pool.analyze(images(1));
    const controller = new AbortController();
    const cancelled = pool.analyze(images(3), { signal: controller.signal });
    expect(pool.stats().queued).toBe(3);
    controller.abort(new Error("client went away"));
    expect(pool.stats().queued).toBe(0);
    expect(((await rejection(cancelled)) as Error).message).toBe("client went away");
    expect(await running).toHaveLength(1);
    const already = await rejection(pool.analyze(images(1), { signal: AbortSignal.abort("gone") }));
    expect(already).toBe("gone");
  });

  it("replaces a crashed worker: the job in flight fails cleanly, the next call succeeds", async () => {
    const inFlight = pool.analyze(images(1));
    await until(() => pool.stats().running === 1);
    await workers[0]?.terminate();
    const failure = await rejection(inFlight);
    expect(isFacevaultError(failure, "unavailable")).toBe(true);
    expect((failure as Error).message).toMatch(/worker stopped/);
    await until(() => workers.length === 2);
    const [result] = await pool.analyze(images(1));
    expect(result?.features?.vector.length).toBe(512);
    expect(pool.stats().workers).toBe(1);
  });

  it("computes the encoder a call asks for and refuses unknown ones", async () => {
    const [v1] = await pool.analyze(images(1), { encoderVersion: 1 });
    expect(v1?.features?.encoderVersion).toBe(1);
    expect(v1?.features?.vector.length).toBe(1024);
    const unknown = await rejection(pool.analyze(images(1), { encoderVersion: 9 }));
    expect(isFacevaultError(unknown, "invalid_argument")).toBe(true);
  });

  it("leaves the caller's bytes intact, a Node Buffer that shares its memory included", async () => {
    // Two images as views of one ArrayBuffer, as a request body decoded in place gives them.
    const shared = Buffer.concat([photo, photo]);
    const first = shared.subarray(0, photo.byteLength);
    const second = shared.subarray(photo.byteLength);
    const results = await pool.analyze([first, second]);
    expect(results.map((r) => r?.properties.faces.length)).toEqual([1, 1]);
    expect(shared.buffer.byteLength).toBe(2 * photo.byteLength + shared.byteOffset);
    expect(Buffer.compare(second, Buffer.from(photo))).toBe(0);
  });

  it("keeps no decoded photo in libvips' operation cache after a call", async () => {
    const [result] = await pool.analyze(images(1), { thumbnails: true });
    expect(result?.thumbnail?.byteLength).toBeGreaterThan(0);
    // With the default cache (50 MB, 100 operations) the decode and the PNG stay cached here.
    const { memory, items } = sharp.cache();
    expect({ memory: memory.current, items: items.current }).toEqual({ memory: 0, items: 0 });
  });

  it("rejects queued work when closed", async () => {
    const other = createFacePool({ workers: 1, maxQueue: 4 });
    const queued = rejection(other.analyze(images(2)));
    await other.close();
    expect(isFacevaultError(await queued, "unavailable")).toBe(true);
    expect(isFacevaultError(await rejection(other.analyze(images(1))), "unavailable")).toBe(true);
    await expect(other.ready()).rejects.toThrow();
  });

  it("hands a worker two images at once and answers them as one at a time does", async () => {
    const started: Worker[] = [];
    const two = createFacePool({
      workers: 1,
      maxQueue: 8,
      jobsPerWorker: 2,
      onWorkerStart: (w) => started.push(w),
    });
    try {
      await two.ready();
      const photos = ["people/obama/01.jpg", "people/biden/01.jpg", "people/kit/01.jpg"].map(
        fixtureBytes,
      );
      const batch = [...photos, ...photos];
      const together = two.analyze(batch, { thumbnails: true });
      // Two images went to the worker, the rest wait.
      expect(two.stats()).toMatchObject({ running: 1, queued: batch.length - 2 });
      const alone = await pool.analyze(batch.slice(0, 3), { thumbnails: true });
      const results = await together;
      results.forEach((r, i) => {
        const one = alone[i % 3];
        expect(r.features?.vector).toEqual(one?.features?.vector);
        expect(r.thumbnail).toEqual(one?.thumbnail);
        expect(r.properties).toEqual(one?.properties);
      });
      // Decoding runs on the pool's thread: an image that cannot be decoded is answered while
      // the worker runs another's models, not after them (the worker's models hold its thread).
      const answered: number[] = [];
      const mixed = await two.analyze(
        [photos[0], photos[1], new Uint8Array(64).fill(7)] as Uint8Array[],
        {
          onTimings: (index) => answered.push(index),
        },
      );
      expect(mixed[2]?.error?.code).toBe("InvalidImage");
      // It waits for a place at the worker (the first photo's answer), then comes back before
      // the other photo's, whichever photo decoded first.
      expect(answered).toHaveLength(3);
      expect(answered[1]).toBe(2);
      // A crash fails both images the worker held, with the same retryable error.
      const held = two.analyze(images(2));
      await until(() => two.stats().queued === 0);
      await started[0]?.terminate();
      const failure = await rejection(held);
      expect(isFacevaultError(failure, "unavailable")).toBe(true);
    } finally {
      await two.close();
    }
  });
});
