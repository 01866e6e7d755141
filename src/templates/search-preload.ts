import { SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { SearchIndexes } from "./search-index.js";

export interface SearchPreloadOptions {
  indexes: SearchIndexes;
  /** The partitions to load, in this order (the configured clients' partitions). */
  partitions: readonly { storage: string; partition: number }[];
  logger: Logger;
  /**
   * One `search.preload` span per partition, the parent of the store reads of its load.
   * Default OpenTelemetry's global tracer (a no-op unless an SDK was started).
   */
  tracer?: Tracer;
}

export interface SearchPreload {
  /** Loads no further partition; one already loading finishes in the background. Idempotent. */
  stop(): void;
}

/**
 * Loads the search index of each partition in the background, one partition at a time, so the
 * first Search of a large partition does not wait for its load (1M 512-D templates: about 1 s
 * from the search snapshot; the very first load, from every template, tens of seconds, and it
 * writes the snapshot the next start reads). Calls are answered meanwhile: a Search of a
 * partition being loaded waits for that same load, other partitions answer at once. A load that
 * fails (database unreachable) is logged and happens again at the partition's next Search.
 */
export function preloadSearchIndexes(options: SearchPreloadOptions): SearchPreload {
  const log = options.logger.child({ component: "search-preload" });
  const tracer = options.tracer ?? trace.getTracer("facevault");
  let stopped = false;
  async function run(): Promise<void> {
    for (const { storage, partition } of options.partitions) {
      if (stopped) return;
      try {
        await tracer.startActiveSpan(
          "search.preload",
          { attributes: { "facevault.storage": storage, "facevault.partition": partition } },
          (span) =>
            options.indexes
              .partition(storage, partition)
              .sync()
              .catch((err: unknown) => {
                span.setStatus({ code: SpanStatusCode.ERROR, message: "not loaded" });
                throw err;
              })
              .finally(() => span.end()),
        );
      } catch (err) {
        // After stop() the store may be closed under the load: expected, not worth a warning.
        if (!stopped) log.warn({ err, storage, partition }, "search index not preloaded");
      }
    }
  }
  // Never rejects: each partition's failure is caught and logged above.
  void run();
  return {
    stop() {
      stopped = true;
    },
  };
}
