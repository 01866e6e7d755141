import { type Span, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import { isFacevaultError } from "../errors.js";
import type { TemplateStore } from "../store/template-store.js";
import type { Readiness } from "./readiness.js";

/** What the watcher needs of a store: its backend name (for spans) and a ping. */
export type WatchableStore = Pick<TemplateStore, "kind" | "ping">;

export interface StoreAvailabilityOptions<S extends WatchableStore> {
  /** The store; every method it has is watched (template store and job log alike). */
  store: S;
  readiness: Readiness;
  logger: Logger;
  /** How often the store is pinged while it answers, ms. Default 5000. */
  checkIntervalMs?: number;
  /** How often it is pinged while it cannot be reached, ms. Default 500. */
  retryIntervalMs?: number;
  /** Told about every store operation: its name, seconds, and the error kind if it failed. */
  onOperation?: (operation: string, seconds: number, failed: string | undefined) => void;
  /** Traces every store operation as a span (under the call's). Default none. */
  tracer?: Tracer;
}

export interface StoreAvailability<S extends WatchableStore> {
  /**
   * The store, watched: every operation is reported to `onOperation`, and one failing as
   * `unavailable` makes the watcher look at once.
   */
  readonly store: S;
  /** Stops watching. */
  close(): void;
}

/**
 * Keeps the readiness condition "store" in step with the database: failing (NOT_SERVING, 503 on
 * /readyz) from the first failed ping until a ping succeeds again, with no restart. A ping runs
 * every `checkIntervalMs`, every `retryIntervalMs` while the database is unreachable, and at once
 * when a call through the watched store fails as `unavailable` (a ping, not the call, decides:
 * a busy SQLite file is not an outage).
 */
export function watchStoreAvailability<S extends WatchableStore>(
  options: StoreAvailabilityOptions<S>,
): StoreAvailability<S> {
  const { store, readiness } = options;
  const checkIntervalMs = options.checkIntervalMs ?? 5000;
  const retryIntervalMs = options.retryIntervalMs ?? 500;
  const log = options.logger.child({ component: "store-availability" });
  let down = false;
  let closed = false;
  let probing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  function probe(): Promise<void> {
    probing ??= store
      .ping()
      .then(
        () => {
          if (!down) return;
          down = false;
          readiness.set("store", undefined);
          log.info("the database answers again");
        },
        (err: unknown) => {
          if (closed || down || !isFacevaultError(err, "unavailable")) return;
          down = true;
          readiness.set("store", "the database cannot be reached");
          log.warn({ err }, "the database cannot be reached; answering 503 until it can");
        },
      )
      .finally(() => {
        probing = undefined;
        schedule();
      });
    return probing;
  }

  function schedule(): void {
    clearTimeout(timer);
    if (closed) return;
    timer = setTimeout(probe, down ? retryIntervalMs : checkIntervalMs);
    timer.unref();
  }
  schedule();

  // Every method of the store, unchanged but observed; an `unavailable` failure starts a ping.
  const observe = options.onOperation;
  const watched = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || property === "close" || property === "ping") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      const operation = String(property);
      const run = (args: unknown[], span?: Span) => {
        const started = performance.now();
        const seconds = () => (performance.now() - started) / 1000;
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).then(
          (result) => {
            observe?.(operation, seconds(), undefined);
            span?.end();
            return result;
          },
          (err: unknown) => {
            const kind = isFacevaultError(err) ? err.kind : "unknown";
            observe?.(operation, seconds(), kind);
            span?.setStatus({ code: SpanStatusCode.ERROR, message: kind });
            span?.end();
            if (isFacevaultError(err, "unavailable")) void probe();
            throw err;
          },
        );
      };
      const tracer = options.tracer;
      return (...args: unknown[]) =>
        tracer
          ? tracer.startActiveSpan(
              `store.${operation}`,
              { attributes: { "db.system": store.kind, "db.operation.name": operation } },
              (span) => run(args, span),
            )
          : run(args);
    },
  });

  return {
    store: watched,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
