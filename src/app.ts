/**
 * The composition root: builds every piece of infrastructure once (logger, store, keys, models,
 * service, server) and hands each its dependencies. Nothing else constructs infrastructure.
 */
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { createClientRegistry } from "./auth/client-registry.js";
import { createTokenVerifier } from "./auth/token-verifier.js";
import type { FacevaultConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { createServer, type FacevaultServer } from "./server.js";
import { createFaceRecognitionService } from "./service/face-recognition-service.js";
import { createTemplateStore } from "./store/create-template-store.js";
import type { TemplateStore } from "./store/template-store.js";
import { createTemplateSealer } from "./templates/template-sealer.js";
import { createTemplateVault, type TemplateVault } from "./templates/template-vault.js";

export interface AppOptions {
  /** Default: a pino logger at `config.logLevel` writing to stdout. */
  logger?: Logger;
}

export interface App {
  readonly config: FacevaultConfig;
  readonly logger: Logger;
  readonly store: TemplateStore;
  readonly vault: TemplateVault;
  readonly server: FacevaultServer;
  /** Listens on `config.port` (0 = any free port) and resolves with the address. */
  start(): Promise<AddressInfo>;
  /** Graceful stop: in-flight calls finish (bounded), then models and store are closed. */
  stop(): Promise<void>;
}

/** Builds the whole service from a validated configuration. */
export async function createApp(config: FacevaultConfig, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const store = await createTemplateStore({
    database: config.database,
    schema: config.databaseSchema,
  });
  const vault = createTemplateVault({
    sealer: createTemplateSealer({ masterKeys: config.masterKeys }),
  });
  const clients = createClientRegistry(config.clients);
  const service = createFaceRecognitionService({ store, vault, limits: config.limits });
  let ready = false;
  const server = createServer({
    logger,
    service,
    verifier: createTokenVerifier({ clients }),
    store,
    limits: config.limits,
    bwsVersion: config.bwsVersion,
    isReady: () => ready,
  });

  return {
    config,
    logger,
    store,
    vault,
    server,
    async start() {
      const address = await server.listen(config.port, config.host);
      ready = true;
      return address;
    },
    async stop() {
      ready = false;
      await server.close();
      await store.close();
    },
  };
}
