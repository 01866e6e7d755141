/**
 * One worker thread that runs one kind of task at a time for the event loop's thread: work that
 * takes tens to thousands of milliseconds of plain JavaScript or WebAssembly (decoding a video,
 * tracking pixels) and would otherwise hold up every other call.
 */
import type { MessagePort, Worker } from "node:worker_threads";
import { type ErrorKind, FacevaultError } from "../errors.js";
import { startWorker } from "./start-worker.js";

/** A task as posted to the thread. */
interface TaskMessage<Req> {
  id: number;
  request: Req;
}

/** The thread's answer: the result, or the error a caller should see. */
type TaskReply<Res> =
  | { id: number; result: Res }
  | { id: number; error: { kind: ErrorKind; message: string; field?: string | undefined } };

export interface TaskThread<Req, Res> {
  /**
   * Runs one task on the thread (tasks run one at a time, in order). `transfer` lists buffers of
   * `request` handed over rather than copied. A cancelled task stops the thread, since a task in
   * progress cannot be interrupted: other tasks waiting are refused (UNAVAILABLE, retryable) and
   * the next one starts a new thread.
   */
  run(request: Req, transfer?: ArrayBuffer[], signal?: AbortSignal): Promise<Res>;
  /** Stops the thread; tasks in flight are refused. */
  close(): Promise<void>;
}

export interface TaskThreadOptions {
  /** The worker's entry (it calls {@link serveTasks}). */
  entry: URL;
  workerData?: unknown;
  /** What the thread does, for messages, e.g. "video decoder". */
  name: string;
}

interface Pending<Res> {
  resolve(result: Res): void;
  reject(err: Error): void;
}

/** A thread started at the first task, and again after it failed or a task was cancelled. */
export function createTaskThread<Req, Res>(options: TaskThreadOptions): TaskThread<Req, Res> {
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, Pending<Res>>();

  function failAll(err: Error): void {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  }

  function stop(): void {
    const stopping = worker;
    worker = undefined;
    void stopping?.terminate();
  }

  function thread(): Worker {
    if (worker) return worker;
    const started = startWorker(options.entry, options.workerData);
    started.unref();
    started.on("message", (reply: TaskReply<Res>) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if ("result" in reply) p.resolve(reply.result);
      else {
        const { kind, message, field } = reply.error;
        p.reject(new FacevaultError(kind, message, field === undefined ? {} : { field }));
      }
    });
    // A thread stopped on purpose has already failed its tasks; only the current one counts.
    const died = () => {
      if (worker !== started) return;
      worker = undefined;
      failAll(new FacevaultError("unavailable", `the ${options.name} stopped; retry`));
    };
    started.on("error", died);
    started.on("exit", died);
    worker = started;
    return started;
  }

  return {
    run(request, transfer = [], signal) {
      signal?.throwIfAborted();
      const id = ++nextId;
      return new Promise<Res>((resolve, reject) => {
        const onAbort = () => {
          pending.delete(id);
          reject(signal?.reason ?? new FacevaultError("cancelled", "the call was cancelled"));
          failAll(new FacevaultError("unavailable", `the ${options.name} restarted; retry`));
          stop();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        pending.set(id, {
          resolve: (result) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(result);
          },
          reject: (err) => {
            signal?.removeEventListener("abort", onAbort);
            reject(err);
          },
        });
        thread().postMessage({ id, request } satisfies TaskMessage<Req>, transfer);
      });
    },
    async close() {
      failAll(new FacevaultError("unavailable", "the server is stopping"));
      stop();
    },
  };
}

/**
 * The worker side: answers every task posted by {@link createTaskThread} with `handle`'s result
 * (and the buffers it lists for transfer), or with the FacevaultError it threw; any other error
 * becomes an internal one, its message not passed on.
 */
export function serveTasks<Req, Res>(
  port: MessagePort,
  name: string,
  handle: (request: Req) => Promise<{ result: Res; transfer?: ArrayBuffer[] }>,
): void {
  port.on("message", async (message: TaskMessage<Req>) => {
    try {
      const { result, transfer } = await handle(message.request);
      port.postMessage({ id: message.id, result } satisfies TaskReply<Res>, transfer ?? []);
    } catch (err) {
      const error =
        err instanceof FacevaultError
          ? { kind: err.kind, message: err.message, field: err.field }
          : { kind: "internal" as const, message: `the ${name} failed` };
      port.postMessage({ id: message.id, error } satisfies TaskReply<Res>);
    }
  });
}
