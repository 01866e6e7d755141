import { setTimeout as sleep } from "node:timers/promises";
import { FacevaultError, isFacevaultError } from "../errors.js";

export interface RetryOnConflictOptions {
  /** Attempts in all before giving up. */
  attempts: number;
  /** Message of the `aborted` error thrown when every attempt met a concurrent write. */
  tooOften: string;
  /** Stops the retries (and the wait between them) when the call goes away. */
  signal?: AbortSignal;
}

/**
 * Runs a read-modify-write `body(attempt)` (attempt from 1) again while it fails with `aborted`,
 * the store's answer when another writer changed the row since it was read, after a jittered
 * wait of up to min(50, 2 x attempt) ms. Other errors pass through at once.
 * @throws FacevaultError `aborted` with `tooOften` after `attempts` collisions.
 */
export async function retryOnConflict<T>(
  options: RetryOnConflictOptions,
  body: (attempt: number) => Promise<T>,
): Promise<T> {
  const { signal } = options;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await body(attempt);
    } catch (err) {
      if (!isFacevaultError(err, "aborted")) throw err;
      if (attempt >= options.attempts) {
        throw new FacevaultError("aborted", options.tooOften, { cause: err });
      }
      await sleep(Math.random() * Math.min(50, 2 * attempt), undefined, signal ? { signal } : {});
    }
  }
}
