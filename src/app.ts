/**
 * The composition root: builds every piece of infrastructure once (logger, store, keys, models,
 * search indexes, service, server) and hands each its dependencies. Nothing else constructs
 * infrastructure.
 */
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { type Tracer, trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import { createAdminKeyRegistry } from "./auth/admin-keys.js";
import { createClientRegistry } from "./auth/client-registry.js";
import { createTokenVerifier } from "./auth/token-verifier.js";
import { type FacevaultConfig, readTlsFiles, servedPartitions } from "./config.js";
import { getEncoder } from "./face/encoders.js";
import { createFacePool, type FacePool } from "./face/face-pool.js";
import { MOTION_DEFAULTS, type PixelMeasure } from "./face/motion.js";
import { createParallaxThread } from "./face/parallax-thread.js";
import { createVideoDecoderThread } from "./face/video-thread.js";
import { createLogger } from "./logger.js";
import { type Job, jobElapsedMs } from "./rpc/context-values.js";
import { createServer, type FacevaultServer } from "./server.js";
import { createAdminService } from "./service/admin-service.js";
import { createFaceRecognitionService } from "./service/face-recognition-service.js";
import { type JobRetention, startJobRetention } from "./service/job-retention.js";
import { createReadiness, type Readiness } from "./service/readiness.js";
import { watchStoreAvailability } from "./service/store-availability.js";
import { createWebService } from "./service/web-service.js";
import { createTemplateStore } from "./store/create-template-store.js";
import type { JobLog } from "./store/job-log.js";
import type { TemplateStore } from "./store/template-store.js";
import { createMetrics, type Metrics } from "./telemetry/metrics.js";
import { metricsEndpoint } from "./telemetry/metrics-endpoint.js";
import { tracedFacePool } from "./telemetry/tracing.js";
import {
  backfillMetadataMacs,
  withAuthenticatedMetadata,
} from "./templates/metadata-authentication.js";
import { createScanThreads } from "./templates/scan-threads.js";
import { createSearchIndexes, type LoadStats, type SearchStats } from "./templates/search-index.js";
import { preloadSearchIndexes, type SearchPreload } from "./templates/search-preload.js";
import { createTemplateSealer } from "./templates/template-sealer.js";
import { createTemplateVault, type TemplateVault } from "./templates/template-vault.js";
import { createApiDocs } from "./web/api-docs.js";
import { serveWebPage } from "./web/web-page.js";

export interface AppOptions {
  /** Default: a pino logger at `config.logLevel` writing to stdout. */
  logger?: Logger;
  /**
   * Traces calls, face analysis and store operations. Default: OpenTelemetry's global tracer,
   * a no-op unless main.ts started the SDK (tracing configured).
   */
  tracer?: Tracer;
}

export interface App {
  readonly config: FacevaultConfig;
  readonly logger: Logger;
  readonly store: TemplateStore;
  /** The bookkeeping log (same database and watcher as `store`). */
  readonly jobLog: JobLog;
  readonly vault: TemplateVault;
  readonly faces: FacePool;
  readonly server: FacevaultServer;
  readonly readiness: Readiness;
  /** Listens on `config.port` (0 = any free port); /readyz says "not ready" until `ready()`. */
  listen(): Promise<AddressInfo>;
  /** Waits for the face models to load and warm up, then reports ready. */
  ready(): Promise<void>;
  /** `listen()` then `ready()`. */
  start(): Promise<AddressInfo>;
  /** Graceful stop: in-flight calls finish (bounded), then models and store are closed. */
  stop(): Promise<void>;
  /**
   * Re-reads the TLS certificate and key files for new connections (on SIGHUP); without TLS a
   * no-op. A file that cannot be read leaves the current certificate in place and throws.
   */
  reloadTls(): void;
  /** The address of the metrics port when `metrics.port` is set (after `listen`). */
  metricsAddress(): AddressInfo | undefined;
  /** Prometheus metrics, unless `metrics.enabled` is false. */
  readonly metrics: Metrics | undefined;
}

/** Builds the whole service from a validated configuration. */
export async function createApp(config: FacevaultConfig, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const tracer = options.tracer ?? trace.getTracer("facevault");
  const encoder = getEncoder(config.face.encoderVersion);
  const readiness = createReadiness({ failing: { models: "face models are warming up" } });
  const opened = await createTemplateStore({
    database: config.database,
    schema: config.databaseSchema,
  });
  const vault = createTemplateVault({
    sealer: createTemplateSealer({ masterKeys: config.masterKeys }),
  });
  // Rows from before metadata MACs get theirs before anything reads them.
  await backfillMetadataMacs(opened, vault, logger).catch(async (err: unknown) => {
    await opened.close();
    throw err;
  });
  // Everything uses the watched store: an outage turns readiness off and back on by itself.
  const faceWorkers = config.face.workers ?? availableParallelism();
  const poolStats = { stats: () => faces.stats() };
  const metrics = config.metrics.enabled
    ? createMetrics({ faceWorkers, faces: poolStats })
    : undefined;
  const availability = watchStoreAvailability({
    store: opened,
    readiness,
    logger,
    ...(metrics ? { onOperation: metrics.storeOperation } : {}),
    tracer,
  });
  const store: TemplateStore = withAuthenticatedMetadata(availability.store, vault);
  const jobLog: JobLog = availability.store;
  const pool = createFacePool({
    workers: faceWorkers,
    ...(metrics
      ? {
          onQueueFull: metrics.queueFull,
          onImageAnalysed: (r) => metrics.imageAnalysed({ ...r.timings }),
        }
      : {}),
    maxQueue: config.face.maxQueue,
    encoderVersion: encoder.version,
    maxInputPixels: config.face.maxInputPixels,
    closeWaitMs: config.face.closeWaitMs,
    jobsPerWorker: config.face.jobsPerWorker,
  });
  const faces = tracedFacePool(pool, tracer);
  const scanThreads =
    config.search.scanThreads > 0
      ? createScanThreads({
          threads: config.search.scanThreads,
          timeoutMs: config.search.scanThreadTimeoutMs,
          logger,
        })
      : undefined;
  const searchIndexes = createSearchIndexes({
    ...(scanThreads ? { scanThreads } : {}),
    ...(metrics
      ? {
          onSearch: (stats: SearchStats) => {
            metrics.searchDone(stats.totalMs / 1000);
            metrics.searchTemplates(stats.storage, stats.partition, stats.templates);
          },
          onLoad: (stats: LoadStats) => {
            metrics.searchIndexLoaded(stats.fromSnapshot, stats.ms / 1000);
            metrics.searchTemplates(stats.storage, stats.partition, stats.templates);
          },
        }
      : {}),
    store,
    vault,
    encoderVersion: encoder.version,
    dimension: encoder.dimension,
    metric: encoder.metric,
    logger,
  });
  const parallax = createParallaxThread();
  const motion = {
    ...MOTION_DEFAULTS,
    evidence: config.liveness.activeEvidence,
    minResidual: config.liveness.activeMinResidual,
    minPixelResidual: config.liveness.activeMinPixelResidual,
    untracked: config.liveness.untrackedPairs,
    minMovementDegrees: config.liveness.minMovementDegrees,
  };
  const pixelParallax: PixelMeasure = parallax.measure;
  const service = createFaceRecognitionService({
    motion,
    pixelParallax,
    store,
    vault,
    faces,
    searchIndexes,
    encoderVersion: encoder.version,
    minScore: config.matching.minScore,
    maxFeatureVectors: config.templates.maxFeatureVectors,
    limits: config.limits,
  });
  const videoDecoder = createVideoDecoderThread();
  const webService = createWebService({
    faces,
    passive: { minScore: config.liveness.passiveMinScore },
    motion,
    maxVideoFrames: config.liveness.videoFrames,
    videoFrames: (video, frames, signal) => videoDecoder.frames(video, frames, signal),
    pixelParallax,
  });
  const apiDocs = createApiDocs();
  const metricsOnApiPort =
    metrics && config.metrics.port === undefined ? metricsEndpoint(metrics) : undefined;
  const server = createServer({
    logger,
    service,
    webService,
    verifier: createTokenVerifier({
      clients: createClientRegistry(config.clients),
      maxTokenLifetimeSeconds: config.limits.maxTokenLifetimeSeconds,
    }),
    jobLog,
    admin: {
      service: createAdminService({
        store,
        catalog: availability.store,
        jobLog,
        vault,
        clients: config.clients,
      }),
      keys: createAdminKeyRegistry(config.admins),
    },
    limits: config.limits,
    http: config.http,
    bwsVersion: config.bwsVersion,
    readiness,
    ...(config.tls ? { tls: readTlsFiles(config.tls) } : {}),
    tracer,
    pages: (req, res) =>
      serveWebPage(req, res) || apiDocs(req, res) || (metricsOnApiPort?.(req, res) ?? false),
    ...(metrics
      ? {
          onRefused: metrics.requestRefused,
          onBookkeepingLost: metrics.bookkeepingLost,
          onCallEnded: (job: Job, code: string) =>
            metrics.callEnded({
              method: job.method,
              protocol: job.protocol ?? "connect",
              code,
              seconds: jobElapsedMs(job) / 1000,
            }),
        }
      : {}),
  });
  // /metrics on a port of its own when configured, else beside the API.
  const metricsServer =
    metrics && config.metrics.port !== undefined
      ? createHttpServer((req, res) => {
          if (!metricsEndpoint(metrics)(req, res)) {
            res.writeHead(404).end();
          }
        })
      : undefined;

  let retention: JobRetention | undefined;
  let preload: SearchPreload | undefined;
  const listen = async () => {
    const address = await server.listen(config.port, config.host);
    if (config.search.preload) {
      preload ??= preloadSearchIndexes({
        indexes: searchIndexes,
        partitions: servedPartitions(config.clients),
        logger,
        tracer,
      });
    }
    retention ??= startJobRetention({
      jobLog,
      retentionDays: config.bookkeeping.retentionDays,
      intervalMs: config.bookkeeping.pruneIntervalMinutes * 60_000,
      logger,
    });
    if (metricsServer) {
      await new Promise<void>((resolve, reject) => {
        metricsServer.once("error", reject);
        metricsServer.listen(config.metrics.port, config.host, () => resolve());
      });
    }
    return address;
  };
  const warmUp = async () => {
    await faces.ready();
    readiness.set("models", undefined);
  };

  return {
    config,
    logger,
    store,
    jobLog,
    vault,
    faces,
    server,
    readiness,
    metrics,
    listen,
    ready: warmUp,
    async start() {
      const address = await listen();
      await warmUp();
      return address;
    },
    reloadTls() {
      if (config.tls) server.setTlsIdentity(readTlsFiles(config.tls));
    },
    metricsAddress: () => metricsServer?.address() as AddressInfo | undefined,
    async stop() {
      retention?.stop();
      preload?.stop();
      metricsServer?.close();
      await server.close();
      availability.close();
      await faces.close();
      await scanThreads?.close();
      await videoDecoder.close();
      await parallax.close();
      await store.close();
    },
  };
}
