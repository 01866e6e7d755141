import type { ClientConfig } from "../auth/client-registry.js";

/** Who is calling and until when: the transport builds it from its own call context. */
export interface CallContext {
  client: ClientConfig;
  /** Aborts when the client cancels or the deadline passes; work stops at the next check. */
  signal: AbortSignal;
}

/**
 * What `work` resolves to, unless the call ends first: then rejects at once with the signal's
 * reason (deadline passed, client gone) while `work` goes on for whoever else waits on it, such
 * as the other calls sharing a partition's load.
 */
export function untilCallEnds<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // Whatever `work` ends with is someone else's concern now; never an unhandled rejection.
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
