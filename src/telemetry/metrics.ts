import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** What the face pool reports about itself at a scrape. */
export interface FacePoolGauges {
  stats(): { workers: number; queued: number; running: number };
}

export interface MetricsOptions {
  /** Face worker threads configured (busy and total workers are reported against it). */
  faceWorkers: number;
  faces: FacePoolGauges;
  /** Process metrics (CPU, memory, event loop, GC) as prom-client collects them. Default true. */
  processMetrics?: boolean;
}

/** One finished RPC, as the call interceptor saw it. */
export interface CallObservation {
  method: string;
  protocol: string;
  /** gRPC code name, e.g. "OK", "UNAVAILABLE". */
  code: string;
  seconds: number;
}

/**
 * facevault's Prometheus metrics, in one registry of their own (no global registry: two apps in
 * one process, as in tests, keep theirs apart). Every label is bounded: method names, protocols,
 * gRPC codes, pipeline stages, store operations, configured storages and partitions; never a
 * class id, reference number or anything else a client sends.
 */
export interface Metrics {
  readonly registry: Registry;
  callEnded(call: CallObservation): void;
  /** A request answered before it reached a call (size limit, unreadable body, unknown route). */
  requestRefused(httpStatus: number): void;
  /** Stage timings of one analysed image, ms. */
  imageAnalysed(timings: Readonly<Record<string, number>>): void;
  /** A call refused because the analysis queue was full. */
  queueFull(): void;
  storeOperation(operation: string, seconds: number, failed: string | undefined): void;
  searchDone(seconds: number): void;
  /** Templates held in memory by the search index of one partition. */
  searchTemplates(storage: string, partition: number, count: number): void;
  /** One load of a partition's search index, from its snapshot or from every template. */
  searchIndexLoaded(fromSnapshot: boolean, seconds: number): void;
  bookkeepingLost(records: number): void;
  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<{ contentType: string; text: string }>;
}

const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Creates the metrics; see {@link Metrics}. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const calls = new Counter({
    name: "facevault_calls_total",
    help: "RPCs answered, by method, protocol and gRPC code",
    labelNames: ["method", "protocol", "code"] as const,
    registers,
  });
  const callSeconds = new Histogram({
    name: "facevault_call_duration_seconds",
    help: "Time from a call's arrival to its answer, by method",
    labelNames: ["method", "protocol"] as const,
    buckets: latencyBuckets,
    registers,
  });
  const refused = new Counter({
    name: "facevault_requests_refused_total",
    help: "Requests answered before they reached a call (size limit, unreadable body, no route), by HTTP status",
    labelNames: ["status"] as const,
    registers,
  });
  new Gauge({
    name: "facevault_face_queue_depth",
    help: "Images waiting for a face worker",
    registers,
    collect() {
      this.set(options.faces.stats().queued);
    },
  });
  new Gauge({
    name: "facevault_face_workers_busy",
    help: "Face workers analysing an image now",
    registers,
    collect() {
      this.set(options.faces.stats().running);
    },
  });
  new Gauge({
    name: "facevault_face_workers",
    help: "Face workers running (configured: facevault_face_workers_configured)",
    registers,
    collect() {
      this.set(options.faces.stats().workers);
    },
  });
  new Gauge({
    name: "facevault_face_workers_configured",
    help: "Face workers configured",
    registers,
  }).set(options.faceWorkers);
  const queueFull = new Counter({
    name: "facevault_face_queue_full_total",
    help: "Calls refused with UNAVAILABLE because the analysis queue was full",
    registers,
  });
  const stageSeconds = new Histogram({
    name: "facevault_face_stage_duration_seconds",
    help: "Time per face pipeline stage and image",
    labelNames: ["stage"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const storeSeconds = new Histogram({
    name: "facevault_store_operation_duration_seconds",
    help: "Time of template store operations",
    labelNames: ["operation"] as const,
    buckets: latencyBuckets,
    registers,
  });
  const storeErrors = new Counter({
    name: "facevault_store_errors_total",
    help: "Template store operations that failed, by operation and error kind",
    labelNames: ["operation", "kind"] as const,
    registers,
  });
  const searchSeconds = new Histogram({
    name: "facevault_search_duration_seconds",
    help: "Time to search one probe in a partition's in-memory index",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const searchTemplates = new Gauge({
    name: "facevault_search_templates",
    help: "Templates held in memory for search, by storage and partition",
    labelNames: ["storage", "partition"] as const,
    registers,
  });
  const searchLoadSeconds = new Histogram({
    name: "facevault_search_index_load_seconds",
    help: "Time to load one partition's search index, by source (snapshot or templates)",
    labelNames: ["source"] as const,
    buckets: latencyBuckets,
    registers,
  });
  const bookkeepingLost = new Counter({
    name: "facevault_bookkeeping_records_lost_total",
    help: "Bookkeeping records lost because the database stayed unreachable",
    registers,
  });

  return {
    registry,
    callEnded(call) {
      calls.inc({ method: call.method, protocol: call.protocol, code: call.code });
      callSeconds.observe({ method: call.method, protocol: call.protocol }, call.seconds);
    },
    requestRefused(httpStatus) {
      refused.inc({ status: String(httpStatus) });
    },
    imageAnalysed(timings) {
      for (const [stage, ms] of Object.entries(timings)) stageSeconds.observe({ stage }, ms / 1000);
    },
    queueFull: () => queueFull.inc(),
    storeOperation(operation, seconds, failed) {
      storeSeconds.observe({ operation }, seconds);
      if (failed !== undefined) storeErrors.inc({ operation, kind: failed });
    },
    searchDone: (seconds) => searchSeconds.observe(seconds),
    searchTemplates(storage, partition, count) {
      searchTemplates.set({ storage, partition: String(partition) }, count);
    },
    searchIndexLoaded(fromSnapshot, seconds) {
      searchLoadSeconds.observe({ source: fromSnapshot ? "snapshot" : "templates" }, seconds);
    },
    bookkeepingLost: (records) => bookkeepingLost.inc(records),
    async scrape() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
  };
}
