import { register } from "node:module";
import type { FacevaultConfig } from "../config.js";
import { devBanner } from "./dev-banner.js";

/**
 * `facevault serve`: composition root → listen → graceful shutdown on SIGTERM/SIGINT (a second
 * signal exits at once); SIGHUP reloads the TLS certificate. Resolves once the server stopped.
 */
export async function serveCommand(config: FacevaultConfig): Promise<void> {
  // Tracing must start before the modules it instruments (pg, http) are loaded: the app is
  // imported only after it, and ESM imports go through OpenTelemetry's loader hook.
  let tracing: { shutdown(): Promise<void> } | undefined;
  if (config.tracing.enabled) {
    register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
    const { startTracing } = await import("../telemetry/tracing-sdk.js");
    tracing = startTracing(config.tracing.endpoint ? { endpoint: config.tracing.endpoint } : {});
  }
  const { createApp } = await import("../app.js");
  const app = await createApp(config);
  const address = await app.start();
  app.logger.info(
    { port: address.port, host: address.address, devMode: config.devMode },
    "listening",
  );
  if (config.devMode)
    process.stdout.write(devBanner(config, address, process.argv[1] ?? "facevault"));

  if (config.tls) {
    process.on("SIGHUP", () => {
      try {
        app.reloadTls();
        app.logger.info("TLS certificate reloaded");
      } catch (err) {
        app.logger.error({ err }, "TLS certificate not reloaded; the previous one stays in use");
      }
    });
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      app.logger.info({ signal }, "shutting down");
      // A second signal while draining means "now".
      process.once(signal, () => process.exit(1));
      app.stop().then(resolve, (err: unknown) => {
        app.logger.error({ err }, "shutdown failed");
        resolve();
      });
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  // The last spans are sent before the process goes.
  await tracing?.shutdown().catch(() => undefined);
}
