import type { OutgoingHttpHeaders } from "node:http";
import type { NodeResponse } from "./node-types.js";

/**
 * Mends two things in the trailers Connect writes for gRPC over HTTP/2, as they are added:
 * - `grpc-message` is encoded like encodeURIComponent (',' becomes %2C), but grpc-js decodes
 *   with decodeURI, which leaves %2C as it is, so grpc-js callers would read "number%2C got 0".
 *   It is re-encoded as the gRPC spec says: percent-encode only bytes outside printable ASCII,
 *   and '%'.
 * - a request message that is not valid protobuf is answered INTERNAL ("parse binary: ..."),
 *   which blames the server for the client's bytes; it becomes INVALID_ARGUMENT.
 * gRPC-Web and Connect carry errors in bodies that their clients decode in full.
 */
export function mendGrpcTrailers(res: NodeResponse): void {
  if (!("stream" in res)) return;
  const addTrailers = res.addTrailers.bind(res);
  res.addTrailers = (trailers: OutgoingHttpHeaders) => {
    const value = trailers["grpc-message"];
    if (typeof value === "string") {
      const message = decode(value);
      if (trailers["grpc-status"] === "13" && message.startsWith("parse binary:")) {
        trailers["grpc-status"] = "3";
      }
      trailers["grpc-message"] = encode(message);
    }
    addTrailers(trailers);
  };
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function encode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
