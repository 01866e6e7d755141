import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Transferable, Worker } from "node:worker_threads";

/**
 * Starts a worker thread on `entry`. A `.ts` entry (under vitest or tsx, before compiling) runs
 * through tsx's loader, registered inside the worker by a two-line bootstrap:
 * `execArgv: ['--import', 'tsx']` does not reach a worker's entry on Node 20 (tsx issue #354,
 * ERR_UNKNOWN_FILE_EXTENSION). A `.js` entry starts directly.
 */
export function startWorker(
  entry: URL,
  workerData?: unknown,
  transferList?: readonly Transferable[],
): Worker {
  const options = { workerData, ...(transferList ? { transferList: [...transferList] } : {}) };
  if (!entry.pathname.endsWith(".ts")) return new Worker(entry, options);
  // tsx's ESM API sits beside the CommonJS file `require.resolve` finds.
  const api = join(dirname(createRequire(import.meta.url).resolve("tsx/esm/api")), "index.mjs");
  const bootstrap = `import(${JSON.stringify(pathToFileURL(api).href)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, ...options });
}

/**
 * The worker entry `name` beside the module at `moduleUrl` (its `import.meta.url`): the `.ts`
 * source under vitest or tsx, the compiled `.js` file otherwise.
 */
export function siblingEntry(moduleUrl: string, name: string): URL {
  return new URL(`./${name}${moduleUrl.endsWith(".ts") ? ".ts" : ".js"}`, moduleUrl);
}
