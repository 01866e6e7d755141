/**
 * Builds the facevault server without listening: one port serving gRPC (HTTP/2), Connect (JSON
 * and binary), gRPC-Web, the JSON Web API (REST), health endpoints and the web page, in
 * plaintext (h2c + HTTP/1.1) or TLS (ALPN h2 + http/1.1). `main.ts` listens.
 *
 * Every request gets its job (job id, date, reference number, headers) here, once. RPCs go
 * through Connect's own Node adapter; everything else through its fallback: health, pages, REST,
 * 404. The call interceptor completes and records the job of every call that reaches its RPC.
 */
import { setMaxListeners } from "node:events";
import { constants as http2Constants } from "node:http2";
import type { AddressInfo } from "node:net";
import {
  Code,
  ConnectError,
  createContextValues,
  createServiceImplSpec,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import { BioIDWebService } from "../gen/bioid/services/v1/bws_pb.js";
import { FaceRecognition } from "../gen/bioid/services/v1/face_recognition_pb.js";
import { Admin } from "../gen/facevault/admin/v1/admin_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import type { AdminKeyRegistry } from "./auth/admin-keys.js";
import type { TokenVerifier } from "./auth/token-verifier.js";
import type { HttpSettings, Limits } from "./config.js";
import { mendGrpcTrailers } from "./http/grpc-trailers.js";
import { createJobTracker } from "./http/job-tracker.js";
import { createListener, type TlsIdentity } from "./http/listener.js";
import type { NodeRequest, NodeResponse } from "./http/node-types.js";
import { sendJsonText, sendRestError } from "./rest/rest-error.js";
import { createRestTranscoder } from "./rest/rest-transcoder.js";
import { adminAuthenticator, adminImpl } from "./rpc/admin-routes.js";
import { createCallInterceptor } from "./rpc/call-interceptor.js";
import { type Job, jobKey } from "./rpc/context-values.js";
import { faceRecognitionImpl } from "./rpc/face-recognition-routes.js";
import { healthImpl } from "./rpc/health-routes.js";
import { webServiceImpl } from "./rpc/web-service-routes.js";
import type { AdminService } from "./service/admin-service.js";
import type { FaceRecognitionService } from "./service/face-recognition-service.js";
import type { Readiness } from "./service/readiness.js";
import type { WebService } from "./service/web-service.js";
import type { JobLog } from "./store/job-log.js";

export interface ServerOptions {
  logger: Logger;
  service: FaceRecognitionService;
  /** LivenessDetection, VideoLivenessDetection and PhotoVerify; not served when absent. */
  webService?: WebService;
  verifier: TokenVerifier;
  /** The admin API (facevault.admin.v1.Admin) and its keys. */
  admin: { service: AdminService; keys: AdminKeyRegistry };
  /** Bookkeeping records of every call are written here. */
  jobLog: Pick<JobLog, "recordJob">;
  limits: Limits;
  http: HttpSettings;
  bwsVersion: string;
  /** /readyz and gRPC health report it; the server marks itself not ready while closing. */
  readiness: Readiness;
  /** Serve TLS with this identity (ALPN h2 and http/1.1); default plaintext. */
  tls?: TlsIdentity;
  /** Extra routes (the web page, API docs, metrics), tried before REST; true when one answered. */
  pages?: (req: NodeRequest, res: NodeResponse) => boolean;
  /** Told about requests answered before they reached a call (metrics). */
  onRefused?: (httpStatus: number) => void;
  /** Told about every finished call (metrics). */
  onCallEnded?: (job: Job, code: string) => void;
  /** Told how many bookkeeping records were lost in an outage (metrics). */
  onBookkeepingLost?: (records: number) => void;
  /** Traces every call (OpenTelemetry). Default none. */
  tracer?: Tracer;
}

export interface FacevaultServer {
  /** Starts listening; port 0 picks a free port. Resolves with the bound address. */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /**
   * Graceful stop: readiness turns NOT_SERVING, new connections are refused, in-flight calls
   * get up to `limits.shutdownGraceMs` to finish, then the rest are cancelled and cut, and the
   * bookkeeping writes are awaited.
   */
  close(): Promise<void>;
  /** Uses a new TLS certificate for new connections (after a SIGHUP). */
  setTlsIdentity(identity: TlsIdentity): void;
  /** Resolves when all bookkeeping records of finished calls are written. */
  drainBookkeeping(): Promise<void>;
  /** Requests whose response has not closed yet. */
  inFlight(): number;
}

/** Builds the server; see {@link FacevaultServer}. */
export function createServer(options: ServerOptions): FacevaultServer {
  const { limits, logger, readiness } = options;
  const log = logger.child({ component: "server" });
  /** Aborted when close() begins (watches end), and when in-flight calls are cut. */
  const stopping = new AbortController();
  const shutdown = new AbortController();
  // Every running call listens on these (Connect links each call's signal to the shutdown one).
  setMaxListeners(0, stopping.signal, shutdown.signal);
  const jobs = createJobTracker({
    bwsVersion: options.bwsVersion,
    maxReferenceNumberLength: limits.maxReferenceNumberLength,
    jobLog: options.jobLog,
    logger: log,
    ...(options.onBookkeepingLost ? { onLost: options.onBookkeepingLost } : {}),
  });
  const interceptors = [
    createCallInterceptor({
      verifier: options.verifier,
      logger: logger.child({ component: "rpc" }),
      publicServices: [Health.typeName],
      authenticators: { [Admin.typeName]: adminAuthenticator(options.admin.keys) },
      record: jobs.record,
      ...(options.onCallEnded ? { onCallEnded: options.onCallEnded } : {}),
      ...(options.tracer ? { tracer: options.tracer } : {}),
    }),
  ];
  const faces = faceRecognitionImpl(options.service, {
    requestTimeoutMs: limits.requestTimeoutMs,
  });
  const admin = adminImpl(options.admin.service);
  const web = options.webService
    ? webServiceImpl(options.webService, { requestTimeoutMs: limits.requestTimeoutMs })
    : undefined;
  const health = healthImpl(readiness, stopping.signal);
  const rest = createRestTranscoder({
    services: [
      createServiceImplSpec<typeof FaceRecognition>(FaceRecognition, faces),
      createServiceImplSpec<typeof Admin>(Admin, admin),
      ...(web ? [createServiceImplSpec<typeof BioIDWebService>(BioIDWebService, web)] : []),
    ],
    interceptors,
    maxRequestBytes: limits.maxRequestBytes,
    maxJsonDepth: limits.maxJsonDepth,
    compressMinBytes: options.http.compressMinBytes,
    shutdownSignal: shutdown.signal,
  });
  const contextValues = (req: NodeRequest) => createContextValues().set(jobKey, jobs.jobOf(req));

  const rpc = connectNodeAdapter({
    routes: (router) => {
      router.service(FaceRecognition, faces).service(Admin, admin).service(Health, health);
      if (web) router.service(BioIDWebService, web);
    },
    interceptors,
    // Accepted gzip and br (the adapter's default) and answer in kind when the client accepts.
    compressMinBytes: options.http.compressMinBytes,
    readMaxBytes: limits.maxRequestBytes,
    // No maxTimeoutMs: Connect would refuse longer client deadlines; the routes cut them.
    shutdownSignal: shutdown.signal,
    contextValues,
    // The adapter's Node types differ from node:http's only in a callback's optional types.
    fallback: (nodeReq, nodeRes) => {
      const [req, res] = [nodeReq as NodeRequest, nodeRes as NodeResponse];
      fallback(req, res).catch((err: unknown) => {
        const job = jobs.jobOf(req);
        log.error({ jobId: job?.jobId, err }, "request failed unexpectedly");
        sendRestError(res, Code.Internal, `internal error (job ${job?.jobId})`);
      });
    },
  });

  async function fallback(req: NodeRequest, res: NodeResponse): Promise<void> {
    const job = jobs.jobOf(req) as Job;
    const method = req.method ?? "GET";
    const pathname = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const probe = method === "GET" || method === "HEAD";
    if (probe && pathname === "/livez") return sendJsonText(res, 200, '{"status":"live"}');
    if (probe && pathname === "/readyz") {
      const ready = readiness.isReady();
      const body = { status: ready ? "ready" : "not ready", reasons: readiness.reasons() };
      return sendJsonText(res, ready ? 200 : 503, JSON.stringify(body));
    }
    if (options.pages?.(req, res)) return;
    if (await rest.handle(req, res, job, contextValues(req))) return;
    const message = `no route for ${method} ${pathname}`;
    if (isGrpcRequest(req)) {
      // A gRPC client expects a gRPC status, not an HTTP error page.
      res.writeHead(200, {
        "content-type": String(req.headers["content-type"]),
        "grpc-status": String(Code.Unimplemented),
        "grpc-message": encodeURIComponent(message),
      });
      res.end();
      return;
    }
    sendRestError(res, Code.NotFound, message);
  }

  let inFlight = 0;
  let idle: (() => void) | undefined;

  function onRequest(req: NodeRequest, res: NodeResponse): void {
    inFlight++;
    const job = jobs.begin(req, res);
    res.once("close", () => {
      if (--inFlight === 0) idle?.();
      logUnrecorded(req, res, job);
    });
    mendGrpcTrailers(res);
    releaseUnreadStream(req);
    rpc(req, res);
  }

  /**
   * The one place that completes requests the call interceptor did not: probes, pages, unknown
   * routes, and calls refused before their message was read (size limit, unreadable body,
   * unsupported encoding). They name no client and carry no bookkeeping record; they are logged.
   */
  function logUnrecorded(req: NodeRequest, res: NodeResponse, job: Job): void {
    if (jobs.isRecorded(job)) return;
    const grpcStatus = "stream" in req ? req.stream.sentTrailers?.["grpc-status"] : undefined;
    const refused = res.statusCode >= 400 || (grpcStatus !== undefined && grpcStatus !== "0");
    if (!refused) return;
    options.onRefused?.(res.statusCode);
    log.info(
      {
        jobId: job.jobId,
        path: (req.url ?? "").split("?", 1)[0],
        method: job.method || undefined,
        status: res.statusCode,
        grpcStatus,
        code: job.outcome,
      },
      "request answered before its call",
    );
  }

  const listener = createListener({
    handler: onRequest,
    settings: options.http,
    requestTimeoutMs: limits.requestTimeoutMs,
    onCut: (what) => log.info({ what }, "connection limit reached: cut"),
    ...(options.tls ? { tls: options.tls } : {}),
  });
  let closing: Promise<void> | undefined;

  return {
    listen: (port, host) => listener.listen(port, host),

    close() {
      closing ??= (async () => {
        readiness.set("shutdown", "shutting down");
        stopping.abort();
        const stopped = listener.stop();
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, limits.shutdownGraceMs);
            idle = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        // Calls still running are told why, then connections are cut.
        shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable));
        await new Promise((resolve) => setImmediate(resolve));
        listener.destroy();
        await stopped;
        await jobs.drain();
      })();
      return closing;
    },

    setTlsIdentity: (identity) => listener.setTlsIdentity(identity),
    drainBookkeeping: () => jobs.drain(),
    inFlight: () => inFlight,
  };
}

function isGrpcRequest(req: NodeRequest): boolean {
  return /^application\/grpc/.test(String(req.headers["content-type"] ?? ""));
}

/**
 * An HTTP/2 call answered before its request body was read (size limit, early error) would stay
 * open: the unread data stalls the client and the stream never ends. Once our trailers are out,
 * reset the stream with NO_ERROR, as gRPC servers do, so both sides let go.
 */
function releaseUnreadStream(req: NodeRequest): void {
  if (!("stream" in req)) return;
  // Node's compatibility layer answers 'wantTrailers' by sending the trailers: ours runs after.
  req.stream.once("wantTrailers", () => {
    setImmediate(() => {
      if (!req.complete && !req.stream.destroyed) {
        // RST_STREAM(NO_ERROR) goes out after the trailers; the unread data is dropped with it.
        req.stream.close(http2Constants.NGHTTP2_NO_ERROR);
        req.stream.destroy();
      }
    });
  });
}
