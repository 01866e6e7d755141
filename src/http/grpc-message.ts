import type { OutgoingHttpHeaders } from "node:http";
import type { NodeResponse } from "./node-types.js";

/**
 * Makes the `grpc-message` trailer of an HTTP/2 response readable by grpc-js. Connect encodes it
 * like encodeURIComponent (',' becomes %2C), but grpc-js decodes with decodeURI, which leaves %2C
 * as it is, so grpc-js callers would read "number%2C got 0". The gRPC spec asks to
 * percent-encode only bytes outside printable ASCII, and '%': re-encode it so as trailers are
 * added. (gRPC-Web and Connect carry errors in bodies that their clients decode in full.)
 */
export function useSpecGrpcMessage(res: NodeResponse): void {
  if (!("stream" in res)) return;
  const addTrailers = res.addTrailers.bind(res);
  res.addTrailers = (trailers: OutgoingHttpHeaders) => {
    const value = trailers["grpc-message"];
    if (typeof value === "string") trailers["grpc-message"] = reencode(value);
    addTrailers(trailers);
  };
}

function reencode(value: string): string {
  let text: string;
  try {
    text = decodeURIComponent(value);
  } catch {
    return value;
  }
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
