/**
 * Whether the service can take calls: a set of named conditions (models warm, not shutting
 * down, later the store reachable), each failing with a reason until it holds. Liveness is not
 * here: a process that answers is alive.
 */
export interface Readiness {
  /** True when every condition holds. */
  isReady(): boolean;
  /** Reasons of the conditions that do not hold, e.g. ["face models warming up"]. */
  reasons(): string[];
  /** Marks `condition` as failing with `reason`, or as holding when `reason` is undefined. */
  set(condition: string, reason: string | undefined): void;
  /** Resolves at the next change of readiness, or when `signal` aborts. */
  changed(signal?: AbortSignal): Promise<void>;
}

export interface ReadinessOptions {
  /** Conditions failing at start, with their reasons. Default: none (ready). */
  failing?: Record<string, string>;
}

/** Creates a readiness state; see {@link Readiness}. */
export function createReadiness(options: ReadinessOptions = {}): Readiness {
  const failing = new Map(Object.entries(options.failing ?? {}));
  const waiters = new Set<() => void>();

  return {
    isReady: () => failing.size === 0,
    reasons: () => [...failing.values()],
    set(condition, reason) {
      const before = failing.size === 0;
      if (reason === undefined) failing.delete(condition);
      else failing.set(condition, reason);
      if (before === (failing.size === 0)) return;
      for (const wake of [...waiters]) wake();
    },
    changed(signal) {
      return new Promise<void>((resolve) => {
        const wake = () => {
          waiters.delete(wake);
          signal?.removeEventListener("abort", wake);
          resolve();
        };
        if (signal?.aborted) return resolve();
        waiters.add(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
    },
  };
}
