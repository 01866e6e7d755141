import type { FacevaultError } from "../errors.js";
import { storeClosed } from "./store-validation.js";

export interface StoreOperationOptions {
  /** True once the store was closed: every operation then fails with `unavailable`. */
  isClosed: () => boolean;
  /** The backend's translation of a driver error into a FacevaultError (kept as is if one). */
  asStoreError: (err: unknown, action: string) => FacevaultError;
}

/** Builds one store method from its argument check and its body. */
export type StoreOperation = <A extends unknown[], R>(
  action: string,
  validate: (...args: A) => void,
  body: (...args: A) => R | Promise<R>,
) => (...args: A) => Promise<R>;

/**
 * The one wrapper every store method of both backends goes through: refuse after close, validate
 * the arguments (the same `invalid_argument` errors on every backend, before any I/O), run the
 * body, and turn whatever the driver throws into a FacevaultError naming the operation.
 */
export function createStoreOperation(options: StoreOperationOptions): StoreOperation {
  return (action, validate, body) =>
    async (...args) => {
      if (options.isClosed()) throw storeClosed();
      try {
        validate(...args);
        return await body(...args);
      } catch (err) {
        throw options.asStoreError(err, action);
      }
    };
}

/** For operations whose arguments need no check. */
export function noArguments(): void {}
