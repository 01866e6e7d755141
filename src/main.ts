#!/usr/bin/env node
/**
 * Process entry of the `facevault` command. `serve`: configuration → composition root → listen
 * → graceful shutdown on SIGTERM/SIGINT. `token`: print a bearer token for a configured client.
 */
import { register } from "node:module";
import { devBanner } from "./cli/dev-banner.js";
import { commandLine, parseCommand, usage } from "./cli/parse-command.js";
import { tokenCommand } from "./cli/token-command.js";
import { loadConfig } from "./config.js";
import { isFacevaultError } from "./errors.js";

async function main(argv: readonly string[]): Promise<number> {
  const command = parseCommand(argv);
  if (command.name === "help") {
    process.stdout.write(usage);
    return 0;
  }
  const config = loadConfig(command.configPath ? { configPath: command.configPath } : {});
  if (command.name === "token") {
    process.stdout.write(`${await tokenCommand(config, command.clientId, command.minutes)}\n`);
    return 0;
  }

  // Tracing must start before the modules it instruments (pg, http) are loaded: the app is
  // imported only after it, and ESM imports go through OpenTelemetry's loader hook.
  let tracing: { shutdown(): Promise<void> } | undefined;
  if (config.tracing.enabled) {
    register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
    const { startTracing } = await import("./telemetry/tracing-sdk.js");
    tracing = startTracing(config.tracing.endpoint ? { endpoint: config.tracing.endpoint } : {});
  }
  const { createApp } = await import("./app.js");
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
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message = isFacevaultError(err) ? err.message : String((err as Error)?.stack ?? err);
    process.stderr.write(`facevault: ${message}\n`);
    // Usage helps after a mistyped command, not after a bad setting in a config file.
    if (isFacevaultError(err) && err.field === commandLine) process.stderr.write(usage);
    process.exitCode = 1;
  },
);
