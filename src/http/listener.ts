import { createServer as createHttp1Server } from "node:http";
import {
  createServer as createHttp2Server,
  createSecureServer,
  type ServerOptions as Http2ServerOptions,
  type Http2Session,
  constants as http2Constants,
} from "node:http2";
import type { AddressInfo, Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { HttpSettings } from "../config.js";
import type { NodeRequest, NodeResponse } from "./node-types.js";
import { createSharedPortServer } from "./shared-port.js";

/** A TLS certificate chain and its private key, PEM. */
export interface TlsIdentity {
  cert: Buffer;
  key: Buffer;
}

export interface ListenerOptions {
  /** Serves every request, on either HTTP version. */
  handler: (req: NodeRequest, res: NodeResponse) => void;
  /**
   * With TLS: HTTP/2 and HTTP/1.1 on one port, chosen by ALPN (`h2`, `http/1.1`). Without:
   * plaintext HTTP/2 (h2c, prior knowledge) and HTTP/1.1 on one port, chosen by the first bytes.
   */
  tls?: TlsIdentity;
  /** Connection limits (timeouts, streams, connections); see HttpSettings. */
  settings: HttpSettings;
  /** A request's body must have arrived this long after the request, ms (the call's deadline). */
  requestTimeoutMs: number;
  /** Told about every connection or request cut for being too slow. */
  onCut?: (what: string) => void;
}

/** The sockets of one port, both HTTP versions, with or without TLS. */
export interface Listener {
  /** Starts listening; port 0 picks a free port. Resolves with the bound address. */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /**
   * Stops accepting connections: HTTP/2 sessions get GOAWAY (running streams finish), idle
   * HTTP/1.1 connections are closed, busy ones close after their response. Resolves when the
   * last connection has gone (see `destroy` to cut them).
   */
  stop(): Promise<void>;
  /** Cuts every connection still open. */
  destroy(): void;
  /** Replaces the TLS certificate for new connections (no-op without TLS). */
  setTlsIdentity(identity: TlsIdentity): void;
}

/**
 * Creates the listener; see {@link Listener}. Every wait on a client is bounded: the first bytes
 * and HTTP/1.1 headers by `headersTimeoutMs`, a request's body by `requestTimeoutMs`, idle
 * keep-alive and HTTP/2 connections by their own timeouts, a vanished HTTP/2 peer by PING.
 */
export function createListener(options: ListenerOptions): Listener {
  const { handler, settings } = options;
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  /** Sockets speaking HTTP/2: they close with their session, never cut as idle HTTP/1.1. */
  const http2Sockets = new WeakSet<Socket>();
  /** Requests not yet answered per HTTP/1.1 socket, to close only idle ones on stop. */
  const busy = new Map<Socket, number>();
  let stopping = false;
  const cut = (what: string) => options.onCut?.(what);

  const onRequest = (req: NodeRequest, res: NodeResponse) => {
    if (!("stream" in req)) {
      const socket = req.socket;
      busy.set(socket, (busy.get(socket) ?? 0) + 1);
      socket.setTimeout(0); // the TLS keep-alive timer below; the request has its own deadline
      res.once("close", () => {
        const left = (busy.get(socket) ?? 1) - 1;
        busy.set(socket, left);
        if (stopping && left === 0) socket.destroySoon();
        else if (left === 0 && options.tls) socket.setTimeout(settings.keepAliveTimeoutMs);
      });
      if (stopping && "shouldKeepAlive" in res) res.shouldKeepAlive = false;
    }
    boundBody(req, res);
    handler(req, res);
  };

  /** The body must arrive within the call's deadline; a request still sending it is cut. */
  function boundBody(req: NodeRequest, res: NodeResponse): void {
    if (req.complete) return;
    const timer = setTimeout(() => {
      if (req.complete) return;
      cut("request body not received in time");
      if ("stream" in req) req.stream.close(http2Constants.NGHTTP2_CANCEL);
      else req.socket.destroy();
    }, options.requestTimeoutMs);
    res.once("close", () => clearTimeout(timer));
  }

  const http2Options: Http2ServerOptions = {
    settings: { maxConcurrentStreams: settings.maxConcurrentStreams },
  };
  let server: Server;
  let secure: ReturnType<typeof createSecureServer> | undefined;
  if (options.tls) {
    secure = createSecureServer(
      {
        ...http2Options,
        ...options.tls,
        allowHTTP1: true,
        handshakeTimeout: settings.headersTimeoutMs,
      },
      onRequest,
    );
    server = secure;
  } else {
    const http1 = createHttp1Server(
      {
        headersTimeout: settings.headersTimeoutMs,
        // Bodies are bounded per request above, on both HTTP versions alike.
        requestTimeout: 0,
        keepAliveTimeout: settings.keepAliveTimeoutMs,
        connectionsCheckingInterval: Math.min(1000, settings.headersTimeoutMs),
      },
      onRequest,
    );
    // Node starts its header-timeout checks when an HTTP server emits 'listening'. This one never
    // listens itself (the shared port hands it sockets), so the checks are started here.
    http1.emit("listening");
    const http2 = createHttp2Server(http2Options, onRequest);
    http2.on("session", track);
    server = createSharedPortServer(http1, http2, {
      undecidedTimeoutMs: settings.headersTimeoutMs,
      onHandOver(socket, isHttp2) {
        if (isHttp2) http2Sockets.add(socket);
      },
      onUndecided: () => cut("connection sent no request in time"),
    });
    server.once("close", () => http1.close());
  }
  server.maxConnections = settings.maxConnections;

  function track(session: Http2Session): void {
    sessions.add(session);
    session.setTimeout(settings.http2IdleTimeoutMs, () => {
      cut("idle HTTP/2 connection");
      session.close();
    });
    let unanswered = false;
    const ping = setInterval(() => {
      if (unanswered) {
        cut("HTTP/2 peer did not answer PING");
        session.destroy();
        return;
      }
      unanswered = true;
      if (!session.closed && !session.destroyed) {
        session.ping(() => {
          unanswered = false;
        });
      }
    }, settings.http2PingIntervalMs);
    ping.unref();
    session.once("close", () => {
      clearInterval(ping);
      sessions.delete(session);
    });
  }
  secure?.on("session", track);
  server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
    sockets.add(socket);
    if ((socket as TLSSocket).alpnProtocol === "h2") http2Sockets.add(socket);
    else if (options.tls) {
      // HTTP/1.1 over TLS: Node's header timer is not available here; an inactivity timer
      // bounds the wait for the first request (and, once idle again, keep-alive).
      socket.setTimeout(settings.headersTimeoutMs, () => {
        cut("TLS connection sent no request in time");
        socket.destroy();
      });
    }
    socket.once("close", () => {
      sockets.delete(socket);
      busy.delete(socket);
    });
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

    stop() {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      for (const socket of sockets) {
        // HTTP/2 sockets close with their session; idle HTTP/1.1 ones are closed now.
        if (!http2Sockets.has(socket) && (busy.get(socket) ?? 0) === 0) socket.destroySoon();
      }
      return closed;
    },

    destroy() {
      for (const session of sessions) session.destroy(undefined, http2Constants.NGHTTP2_NO_ERROR);
      for (const socket of sockets) socket.destroy();
    },

    setTlsIdentity(identity) {
      secure?.setSecureContext({ ...identity });
    },
  };
}
