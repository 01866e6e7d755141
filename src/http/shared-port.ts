import type { Server as Http1Server } from "node:http";
import type { Http2Server } from "node:http2";
import { createServer as createNetServer, type Server, type Socket } from "node:net";

/** First bytes of every HTTP/2 connection (the client preface starts with "PRI * HTTP/2.0"). */
const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n");

export interface SharedPortOptions {
  /** A connection that has not shown which protocol it speaks after this long is closed, ms. */
  undecidedTimeoutMs: number;
  /** Learns which version each connection got. */
  onHandOver?: (socket: Socket, isHttp2: boolean) => void;
  /** Told about a connection closed while undecided. */
  onUndecided?: () => void;
}

/**
 * One plaintext port for both HTTP versions: `http2.createServer` speaks only h2c and cannot
 * fall back to HTTP/1.1 without TLS, so the first bytes of each connection decide which server
 * gets the socket. gRPC clients open with the HTTP/2 preface; curl, browsers and fetch send
 * an HTTP/1.1 request line.
 */
export function createSharedPortServer(
  http1: Http1Server,
  http2: Http2Server,
  options: SharedPortOptions,
): Server {
  return createNetServer((socket) => {
    let seen = Buffer.alloc(0);
    socket.setTimeout(options.undecidedTimeoutMs, () => {
      options.onUndecided?.();
      socket.destroy();
    });
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, http2Preface.length);
      const isHttp2 = seen.subarray(0, n).equals(http2Preface.subarray(0, n));
      // Undecided until the bytes so far either diverge from the preface or complete it.
      if (isHttp2 && n < http2Preface.length) return;
      socket.off("data", onData);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(seen);
      options.onHandOver?.(socket, isHttp2);
      handOver(socket, isHttp2 ? http2 : http1, isHttp2);
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
}

function handOver(socket: Socket, server: Http1Server | Http2Server, isHttp2: boolean): void {
  server.emit("connection", socket);
  // The HTTP/2 session reads the buffered bytes itself on the next tick; resuming would flow
  // them to no listener. The HTTP/1.1 parser listens for 'data' and needs the flow restarted.
  if (!isHttp2) socket.resume();
}
