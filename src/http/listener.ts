import { createServer as createHttp1Server } from "node:http";
import {
  createServer as createHttp2Server,
  createSecureServer,
  type Http2Session,
  constants as http2Constants,
  type SecureServerOptions,
} from "node:http2";
import type { AddressInfo, Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
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

/** Creates the listener; see {@link Listener}. */
export function createListener(options: ListenerOptions): Listener {
  const { handler } = options;
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  /** Sockets speaking HTTP/2: they close with their session, never cut as idle HTTP/1.1. */
  const http2Sockets = new WeakSet<Socket>();
  /** Requests not yet answered per HTTP/1.1 socket, to close only idle ones on stop. */
  const busy = new Map<Socket, number>();
  let stopping = false;

  const onRequest = (req: NodeRequest, res: NodeResponse) => {
    if (!("stream" in req)) {
      const socket = req.socket;
      busy.set(socket, (busy.get(socket) ?? 0) + 1);
      res.once("close", () => {
        const left = (busy.get(socket) ?? 1) - 1;
        busy.set(socket, left);
        if (stopping && left === 0) socket.destroySoon();
      });
      if (stopping && "shouldKeepAlive" in res) res.shouldKeepAlive = false;
    }
    handler(req, res);
  };

  let server: Server;
  let secure: ReturnType<typeof createSecureServer> | undefined;
  if (options.tls) {
    const tlsOptions: SecureServerOptions = { ...options.tls, allowHTTP1: true };
    secure = createSecureServer(tlsOptions, onRequest);
    server = secure;
  } else {
    const http2 = createHttp2Server(onRequest);
    http2.on("session", track);
    server = createSharedPortServer(createHttp1Server(onRequest), http2, (socket, isHttp2) => {
      if (isHttp2) http2Sockets.add(socket);
    });
  }
  function track(session: Http2Session): void {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  }
  secure?.on("session", track);
  server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
    sockets.add(socket);
    if ((socket as TLSSocket).alpnProtocol === "h2") http2Sockets.add(socket);
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
