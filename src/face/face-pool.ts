import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { FacevaultError } from "../errors.js";
import { type DecodeOptions, decodeDefaults } from "./decode.js";
import { DEFAULT_ENCODER_VERSION, getEncoder } from "./encoders.js";
import type { FaceWorkerData } from "./face-worker.js";
import {
  type AnalyzeRequest,
  type DecodeOutcome,
  decodeStage,
  encodeThumbnail,
  type ModelResult,
  type PipelineResult,
  type StageTimings,
} from "./pipeline.js";
import { PRIMARY_FACE_DEFAULTS, type PrimaryFaceOptions } from "./primary-face.js";
import { QUALITY_DEFAULTS, type QualityOptions } from "./quality.js";
import { ROTATION_DEFAULTS, type RotationOptions } from "./rotation.js";
import { disableSharpCache } from "./sharp-cache.js";
import { siblingEntry, startWorker } from "./start-worker.js";
import type { ImageAnalysis } from "./types.js";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.js";

/** Settings of the face pool; every limit has a default (see src/face/README.md). */
export interface FacePoolOptions extends DecodeOptions {
  /** Worker threads, one engine each (200 to 300 MB each). Default: os.availableParallelism(). */
  workers?: number;
  /**
   * Images waiting for a worker, at most. A call whose images do not fit is refused at once with
   * FacevaultError('unavailable') (retryable). Default 64: with 2 workers at ~12 images/s, about
   * 5 s of work.
   */
  maxQueue?: number;
  /** Encoder version of the features unless a call asks for another. Default 4. */
  encoderVersion?: number;
  /** Detector score below which a face is not a face, in [0,1]. Default 0.5. */
  minConfidence?: number;
  /** Most faces reported per image. Default 10. */
  maxFaces?: number;
  /** Inter-eye distance in analysed pixels below which a face is not a face. Default 12. */
  minFaceEyeDistance?: number;
  /** Rotation stage settings (defaults in rotation.ts / README). */
  rotation?: Partial<RotationOptions>;
  /** Which of several faces is used, and when none is (defaults in primary-face.ts / README). */
  primaryFace?: Partial<PrimaryFaceOptions>;
  /** Quality thresholds (defaults in quality.ts / README). */
  quality?: Partial<QualityOptions>;
  /** Called with every worker started (first ones and replacements), e.g. for metrics. */
  onWorkerStart?: (worker: Worker) => void;
  /** Called when a call is refused because the queue is full, e.g. for metrics. */
  onQueueFull?: () => void;
  /** Called after every analysed image with its stage timings (ms), e.g. for metrics. */
  onImageAnalysed?: (result: Omit<PipelineResult, "analysis">) => void;
  /**
   * How long close() waits for an image a worker is analysing before it stops the worker
   * anyway, in ms. Default 10000.
   */
  closeWaitMs?: number;
  /**
   * Images a worker holds at once, counting the one being decoded for it. At 2 (default) the next
   * image decodes (on sharp's threads, driven by the pool's thread) while the worker runs
   * another's models, and waits in the worker's queue; their models never overlap. 1 hands a
   * worker its next image only after the last one's answer.
   */
  jobsPerWorker?: number;
}

/** Options of one `analyze` call. */
export interface AnalyzeOptions {
  /** Cancels the call: its queued images are dropped and the promise rejects with the reason. */
  signal?: AbortSignal;
  /** Encoder version of the features; default: the pool's `encoderVersion`. */
  encoderVersion?: number;
  /** Render PNG thumbnails of the faces features came from. Default false. */
  thumbnails?: boolean;
  /**
   * Cut the grey face patch that active liveness tracks between two images of the call
   * (`geometry.patch`, 3-9 ms per image). Default false: a call that compares no two images
   * needs none.
   */
  patches?: boolean;
  /** Told each image's stage timings (ms) as its analysis arrives, e.g. for tracing. */
  onTimings?: (image: number, timings: StageTimings) => void;
}

/** Face analysis on worker threads with a bounded queue. */
export interface FacePool {
  /** Resolves once every worker has loaded and warmed up its models; rejects if one cannot. */
  ready(): Promise<void>;
  /**
   * Analyses images, one result per image in the same order; the images of one call are spread
   * over the workers. A bad image gives a result with `error`, never a rejection. Rejects with
   * FacevaultError 'unavailable' when the queue is full, the pool closed, or a worker stopped
   * while analysing (retryable); 'resource_exhausted' for more images than `maxQueue`;
   * 'invalid_argument' for an unknown encoder version; the signal's reason when aborted.
   */
  analyze(images: readonly Uint8Array[], options?: AnalyzeOptions): Promise<ImageAnalysis[]>;
  /** Live workers, images waiting, images being analysed. */
  stats(): { workers: number; queued: number; running: number };
  /** Stops all workers; queued and running work is rejected with 'unavailable'. */
  close(): Promise<void>;
}

interface Job {
  id: number;
  /** The image; emptied once decoded. */
  bytes: Uint8Array;
  /** Wall time of the decode, ms. */
  decodeMs: number;
  request: AnalyzeRequest;
  resolve(result: PipelineResult): void;
  reject(err: unknown): void;
}

interface Slot {
  worker: Worker;
  state: "starting" | "running" | "dead";
  /** The images the worker holds, by job id. */
  jobs: Map<number, Job>;
  /** Set by close() while the slot holds images: called once they are all done. */
  onIdle?: () => void;
}

const WORKER_ENTRY = siblingEntry(import.meta.url, "face-worker");

/**
 * Creates the pool and starts its workers; await `ready()` before reporting the service ready.
 * Turns libvips' operation cache off (see {@link disableSharpCache}).
 */
export function createFacePool(options: FacePoolOptions = {}): FacePool {
  disableSharpCache();
  const workerCount = options.workers ?? availableParallelism();
  const maxQueue = options.maxQueue ?? 64;
  const closeWaitMs = options.closeWaitMs ?? 10_000;
  const jobsPerWorker = options.jobsPerWorker ?? 2;
  const defaultVersion = options.encoderVersion ?? DEFAULT_ENCODER_VERSION;
  const defaultEncoder = getEncoder(defaultVersion);
  const workerData: FaceWorkerData = {
    warmUp: [...defaultEncoder.models],
    engine: { minConfidence: options.minConfidence ?? 0.5, maxFaces: options.maxFaces ?? 10 },
    pipeline: {
      decode: decodeDefaults(options),
      detect: { minEyeDistance: options.minFaceEyeDistance ?? 12 },
      rotation: { ...ROTATION_DEFAULTS, ...options.rotation },
      primaryFace: { ...PRIMARY_FACE_DEFAULTS, ...options.primaryFace },
      quality: { ...QUALITY_DEFAULTS, ...options.quality },
    },
  };
  for (const [name, value] of [
    ["workers", workerCount],
    ["maxQueue", maxQueue],
    ["jobsPerWorker", jobsPerWorker],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new FacevaultError("invalid_argument", `${name} must be a positive integer`);
    }
  }
  const queue: Job[] = [];
  const slots: Slot[] = [];
  let nextJobId = 1;
  let closed = false;

  const dispatch = (): void => {
    // Round by round, so that every worker gets an image before any gets a second.
    for (let round = 0; round < jobsPerWorker; round++) {
      for (const slot of slots) {
        if (queue.length === 0) return;
        if (slot.state !== "running" || slot.jobs.size > round) continue;
        const job = queue.shift() as Job;
        slot.jobs.set(job.id, job);
        void decodeFor(slot, job);
      }
    }
  };

  /** The error a job gets when its worker could not analyse it (`cause`: why). */
  const analysisFailed = (cause: unknown): FacevaultError =>
    new FacevaultError("internal", "face analysis failed", { cause });

  /** The job leaves its slot (answered, or never sent): the slot may take another. */
  const leave = (slot: Slot, job: Job): void => {
    slot.jobs.delete(job.id);
    if (slot.jobs.size === 0) slot.onIdle?.();
  };

  /** Encodes the thumbnail (sharp's threads) and answers the job. */
  const complete = (job: Job, result: ModelResult): void => {
    encodeThumbnail(result).then(
      (done) => {
        options.onImageAnalysed?.({ timings: done.timings, ...measuresOf(done) });
        job.resolve(done);
      },
      (err: unknown) =>
        job.reject(new FacevaultError("internal", "thumbnail encoding failed", { cause: err })),
    );
  };

  /**
   * Decodes the job's image on sharp's threads, then hands the pixels to the slot's worker; an
   * unusable image is answered here without the worker.
   */
  const decodeFor = async (slot: Slot, job: Job): Promise<void> => {
    let outcome: DecodeOutcome | undefined;
    let failure: unknown;
    try {
      outcome = await decodeStage(job.bytes, workerData.pipeline.decode);
    } catch (err) {
      failure = err;
    }
    job.bytes = new Uint8Array(0);
    // The worker stopped meanwhile: the job was rejected with the others it held.
    if (slot.jobs.get(job.id) !== job) return;
    if (outcome?.decoded === undefined) {
      leave(slot, job);
      if (outcome) complete(job, outcome.unusable);
      else job.reject(new FacevaultError("internal", "image decoding failed", { cause: failure }));
      dispatch();
      return;
    }
    job.decodeMs = outcome.ms;
    const { decoded } = outcome;
    // sharp's buffer cannot be transferred (postMessage would clone it, twice over): one copy
    // into a buffer that can (~1 ms at 1600x900), moved to the worker.
    const pixels = new Uint8Array(decoded.image.data);
    const message: WorkerRequest = {
      id: job.id,
      decoded: { ...decoded, image: { ...decoded.image, data: pixels } },
      request: job.request,
    };
    try {
      slot.worker.postMessage(message, [pixels.buffer]);
    } catch (err) {
      leave(slot, job);
      job.reject(analysisFailed(err));
      dispatch();
    }
  };

  const failQueued = (reason: FacevaultError): void => {
    for (const job of queue.splice(0)) job.reject(reason);
  };

  const spawn = (index: number): Promise<void> => {
    const worker = startWorker(WORKER_ENTRY, workerData);
    const slot: Slot = { worker, state: "starting", jobs: new Map() };
    slots[index] = slot;
    let startError = "the worker exited during start-up";
    const started = new Promise<void>((resolve, reject) => {
      worker.on("message", (reply: WorkerReply) => {
        switch (reply.type) {
          case "ready":
            slot.state = "running";
            resolve();
            dispatch();
            return;
          case "start-failed":
            startError = reply.message;
            void worker.terminate();
            return;
          case "result":
          case "failed": {
            const job = slot.jobs.get(reply.id);
            if (job) {
              leave(slot, job);
              if (reply.type === "result") {
                reply.result.timings.decode = job.decodeMs;
                complete(job, reply.result);
              } else {
                job.reject(analysisFailed(reply.message));
              }
            }
            dispatch();
            return;
          }
        }
      });
      worker.on("error", (err) => {
        startError = err.message;
      });
      worker.on("exit", () => {
        const wasStarting = slot.state === "starting";
        slot.state = "dead";
        slot.onIdle?.();
        const jobs = [...slot.jobs.values()];
        slot.jobs.clear();
        for (const job of jobs) {
          job.reject(
            new FacevaultError(
              "unavailable",
              closed
                ? "the face pool is closed"
                : "the face worker stopped while analysing the image; retry",
            ),
          );
        }
        if (wasStarting) {
          reject(new FacevaultError("internal", `face worker failed to start: ${startError}`));
        }
        if (closed) return;
        // A worker that crashed in service is replaced; one that cannot start is not (it would
        // only crash again), and with no worker left queued images cannot be served.
        if (!wasStarting) {
          spawn(index).catch(() => {});
        } else if (slots.every((s) => s.state === "dead")) {
          failQueued(new FacevaultError("unavailable", "no face worker is running"));
        }
      });
    });
    options.onWorkerStart?.(worker);
    return started;
  };

  const readyPromise = Promise.all(Array.from({ length: workerCount }, (_, i) => spawn(i))).then(
    () => undefined,
  );
  // Callers that never await ready() must not see an unhandled rejection.
  readyPromise.catch(() => {});

  const analyze = (
    images: readonly Uint8Array[],
    call: AnalyzeOptions = {},
  ): Promise<ImageAnalysis[]> =>
    new Promise<ImageAnalysis[]>((resolve, reject) => {
      const { signal } = call;
      if (signal?.aborted) return reject(signal.reason);
      if (closed) return reject(new FacevaultError("unavailable", "the face pool is closed"));
      const version = call.encoderVersion ?? defaultVersion;
      // An unknown version throws here, inside the executor: the call rejects with it.
      getEncoder(version);
      if (images.length === 0) return resolve([]);
      if (images.length > maxQueue) {
        return reject(
          new FacevaultError(
            "resource_exhausted",
            `${images.length} images in one call, more than the queue holds (${maxQueue})`,
          ),
        );
      }
      if (queue.length + images.length > maxQueue) {
        options.onQueueFull?.();
        return reject(
          new FacevaultError("unavailable", "the face analysis queue is full; retry later"),
        );
      }
      const request: AnalyzeRequest = {
        encoderVersion: version,
        thumbnails: call.thumbnails ?? false,
        patches: call.patches ?? false,
      };
      const results: ImageAnalysis[] = new Array(images.length);
      let pending = images.length;
      let settled = false;
      const mine = new Set<Job>();
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        // Images of this call not yet started are dropped; started ones finish unobserved.
        for (let i = queue.length - 1; i >= 0; i--)
          if (mine.has(queue[i] as Job)) queue.splice(i, 1);
        if (err === undefined) resolve(results);
        else reject(err);
      };
      const onAbort = (): void => finish(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      images.forEach((image, index) => {
        const job: Job = {
          id: nextJobId++,
          // A private copy: the caller may reuse its buffer while the image waits or decodes.
          // Uint8Array's own slice, since a Node Buffer's slice() is a view of the same memory.
          bytes: Uint8Array.prototype.slice.call(image),
          decodeMs: 0,
          request,
          resolve: (result) => {
            results[index] = result.analysis;
            call.onTimings?.(index, result.timings);
            if (--pending === 0) finish();
          },
          reject: (err) => finish(err),
        };
        mine.add(job);
        queue.push(job);
      });
      dispatch();
    });

  return {
    ready: () => readyPromise,
    analyze,
    stats: () => ({
      workers: slots.filter((s) => s.state !== "dead").length,
      queued: queue.length,
      running: slots.filter((s) => s.jobs.size > 0).length,
    }),
    close: async () => {
      if (closed) return;
      closed = true;
      failQueued(new FacevaultError("unavailable", "the face pool is closed"));
      // Workers stop between images: terminating a thread inside native inference (onnxruntime)
      // aborts the whole process.
      await Promise.all(
        slots.map((s) =>
          s.jobs.size > 0
            ? new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, closeWaitMs);
                s.onIdle = () => {
                  clearTimeout(timer);
                  resolve();
                };
              })
            : undefined,
        ),
      );
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}

function measuresOf(result: PipelineResult): Pick<PipelineResult, "measures"> {
  return result.measures ? { measures: result.measures } : {};
}
