/**
 * Builds the facevault server without listening: one port serving gRPC (h2c), Connect (JSON and
 * binary), gRPC-Web, the JSON Web API (REST) and health endpoints. `main.ts` listens.
 */
import { createServer as createHttp1Server } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2Session,
} from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import type { JsonValue } from "@bufbuild/protobuf";
import {
  Code,
  type ContextValues,
  createConnectRouter,
  createContextValues,
} from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import {
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import type { TokenVerifier } from "./auth/token-verifier.js";
import type { Limits } from "./config.js";
import { isFacevaultError } from "./errors.js";
import { readBody } from "./http/body-reader.js";
import { withSpecGrpcMessage } from "./http/grpc-message.js";
import { createJobTracker } from "./http/job-tracker.js";
import { parseJsonBody, stripDataUrlsInJson } from "./http/json-body.js";
import type { NodeRequest, NodeResponse } from "./http/node-types.js";
import { createSharedPortServer } from "./http/shared-port.js";
import { sendJson, sendRestError } from "./rest/rest-error.js";
import { createRestTranscoder } from "./rest/rest-transcoder.js";
import { createCallInterceptor } from "./rpc/call-interceptor.js";
import { type Job, jobKey } from "./rpc/context-values.js";
import { codeFromKind } from "./rpc/error-mapping.js";
import { registerFaceRecognition } from "./rpc/face-recognition-routes.js";
import { registerHealth } from "./rpc/health-routes.js";
import type { FaceRecognitionService } from "./service/face-recognition-service.js";
import type { TemplateStore } from "./store/template-store.js";

export interface ServerOptions {
  logger: Logger;
  service: FaceRecognitionService;
  verifier: TokenVerifier;
  /** Bookkeeping records of every call are written here. */
  store: Pick<TemplateStore, "recordJob">;
  limits: Limits;
  bwsVersion: string;
  /** True once models are warm and the store is open; /readyz and gRPC health report it. */
  isReady: () => boolean;
  /** Extra GET routes (for example the web page), tried before the API routes. */
  pages?: (req: NodeRequest, res: NodeResponse) => boolean;
}

export interface FacevaultServer {
  /** Starts listening; port 0 picks a free port. Resolves with the bound address. */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /**
   * Graceful stop: refuses new connections, lets in-flight calls finish for up to
   * `limits.shutdownGraceMs`, then cuts what is left and waits for the bookkeeping writes.
   */
  close(): Promise<void>;
  /** Resolves when all bookkeeping records of finished calls are written. */
  drainBookkeeping(): Promise<void>;
  /** Requests whose response has not closed yet. */
  inFlight(): number;
}

/** Builds the server; see {@link FacevaultServer}. */
export function createServer(options: ServerOptions): FacevaultServer {
  const { limits, logger } = options;
  const log = logger.child({ component: "server" });
  let closing = false;
  const isReady = () => !closing && options.isReady();

  const router = createConnectRouter({
    interceptors: [
      createCallInterceptor({
        verifier: options.verifier,
        logger: logger.child({ component: "rpc" }),
        publicServices: [Health.typeName],
      }),
    ],
    readMaxBytes: limits.maxRequestBytes,
    // Client deadlines longer than the server's own are cut to it.
    maxTimeoutMs: limits.requestTimeoutMs,
  });
  registerFaceRecognition(router, options.service, { requestTimeoutMs: limits.requestTimeoutMs });
  registerHealth(router, isReady);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const rest = createRestTranscoder({
    handlers: router.handlers,
    maxRequestBytes: limits.maxRequestBytes,
  });
  const jobs = createJobTracker({
    bwsVersion: options.bwsVersion,
    maxReferenceNumberLength: limits.maxReferenceNumberLength,
    store: options.store,
    logger: log,
  });

  let inFlight = 0;
  let idle: (() => void) | undefined;

  function onRequest(req: NodeRequest, res: NodeResponse): void {
    inFlight++;
    const closed = new Promise<void>((resolve) => {
      res.once("close", () => {
        inFlight--;
        if (inFlight === 0) idle?.();
        resolve();
      });
    });
    if ("stream" in req) releaseUnreadStream(req);
    const job = jobs.begin(req, res);
    if (closing && "shouldKeepAlive" in res) res.shouldKeepAlive = false;
    route(req, res, job, closed)
      .catch((err: unknown) => {
        log.error({ jobId: job.jobId, err }, "request failed unexpectedly");
        job.outcome ??= Code.Internal;
        sendRestError(res, Code.Internal, `internal error (job ${job.jobId})`);
      })
      // Only requests that reached an RPC are API calls with a bookkeeping record.
      .finally(() => job.method && jobs.record(job));
  }

  async function route(
    req: NodeRequest,
    res: NodeResponse,
    job: Job,
    closed: Promise<void>,
  ): Promise<void> {
    const method = req.method ?? "GET";
    const pathname = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (method === "GET" && pathname === "/livez") return sendJson(res, 200, { status: "live" });
    if (method === "GET" && pathname === "/readyz") {
      const ready = isReady();
      return sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready" });
    }
    if (options.pages?.(req, res)) return;

    const contextValues = createContextValues().set(jobKey, job);
    const restMatch = rest.match(method, pathname);
    if (restMatch && restMatch !== "method") {
      job.method = restMatch.route.handler.method.name;
      const outcome = await rest.handle(req, res, restMatch, contextValues);
      job.outcome ??= outcome.code;
      return;
    }
    const handler = handlers.get(pathname);
    if (handler) {
      job.method = handler.method.name;
      return dispatchConnect(req, res, handler, contextValues, job, closed);
    }
    const hint = restMatch === "method" ? ` (this path does not take ${method})` : "";
    sendRestError(res, Code.NotFound, `no route for ${method} ${pathname}${hint}`);
  }

  async function dispatchConnect(
    req: NodeRequest,
    res: NodeResponse,
    handler: UniversalHandler,
    contextValues: ContextValues,
    job: Job,
    closed: Promise<void>,
  ): Promise<void> {
    let parsedJson: JsonValue | undefined;
    const contentType = String(req.headers["content-type"] ?? "");
    const encoding = String(req.headers["content-encoding"] ?? "identity");
    // Connect JSON bodies are read here to refuse integers JSON.parse would round and to accept
    // data URLs; compressed bodies are left to Connect as they are.
    if (
      req.method === "POST" &&
      /^application\/json\b/i.test(contentType) &&
      encoding === "identity"
    ) {
      try {
        parsedJson = parseJsonBody((await readBody(req, limits.maxRequestBytes)).toString("utf8"));
        stripDataUrlsInJson(handler.method.input, parsedJson);
      } catch (err) {
        if (!isFacevaultError(err)) throw err;
        const code = codeFromKind(err.kind);
        job.outcome = code;
        if (code === Code.ResourceExhausted) res.setHeader("connection", "close");
        return sendJson(res, codeToHttpStatus(code), {
          code: codeToString(code),
          message: err.message,
        });
      }
    }
    const uRes = withSpecGrpcMessage(
      await handler(universalRequestFromNodeRequest(req, res, parsedJson, contextValues)),
    );
    // Not awaited: it waits for an "end" event that Node's responses do not emit. Write errors
    // mean the client went away, which the close below reports.
    universalResponseToNodeResponse(uRes, res).catch(() => {});
    await closed;
    // After the response: gRPC trailers are only complete once the body has been sent.
    job.outcome ??= outcomeOf(uRes);
  }

  const http1 = createHttp1Server(onRequest);
  const http2 = createHttp2Server(onRequest);
  const sessions = new Set<Http2Session>();
  http2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const sockets = new Set<Socket>();
  const server = createSharedPortServer(http1, http2);
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },

    async close() {
      if (closing) return;
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close(); // GOAWAY: no new streams, running ones finish
      http1.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, limits.shutdownGraceMs);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const socket of sockets) socket.destroy();
      await stopped;
      await jobs.drain();
    },

    drainBookkeeping: () => jobs.drain(),
    inFlight: () => inFlight,
  };
}

/**
 * An HTTP/2 call answered before its request body was read (size limit, early error) stays
 * open: the unread data stalls the client and the stream never closes. Once our end of the
 * stream is out, reset it with NO_ERROR (as gRPC servers do) so both sides let go.
 */
function releaseUnreadStream(req: Http2ServerRequest): void {
  const stream = req.stream;
  stream.once("finish", () => {
    if (req.complete) return;
    const poll = setInterval(() => {
      if (stream.destroyed) {
        clearInterval(poll);
      } else if (stream.closed || stream.state.localClose) {
        // Our end is out (or the client reset the stream): drop the unread data and close,
        // with RST_STREAM(NO_ERROR) where the stream is still open.
        clearInterval(poll);
        stream.destroy();
      }
    }, 5);
    poll.unref();
  });
}

/**
 * Outcome of a call answered before the interceptor ran (malformed message, size limit, wrong
 * content type): the gRPC status when the protocol has one, else the Connect HTTP status.
 */
function outcomeOf(uRes: UniversalServerResponse): number {
  const grpcStatus = uRes.header?.get("grpc-status") ?? uRes.trailer?.get("grpc-status");
  if (grpcStatus) return Number(grpcStatus);
  if (uRes.status === 200) return 0;
  return connectCodeByStatus[uRes.status] ?? Code.Unknown;
}

const connectCodeByStatus: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.Unimplemented,
  408: Code.DeadlineExceeded,
  409: Code.Aborted,
  413: Code.ResourceExhausted,
  415: Code.InvalidArgument,
  429: Code.ResourceExhausted,
  499: Code.Canceled,
  501: Code.Unimplemented,
  503: Code.Unavailable,
  504: Code.DeadlineExceeded,
};
