import type { UniversalServerResponse } from "@connectrpc/connect/protocol";

/**
 * Re-encodes the `grpc-message` of a gRPC response as the gRPC spec says: percent-encode only
 * bytes outside printable ASCII, and '%'. Connect encodes like encodeURIComponent (',' becomes
 * %2C), and grpc-js decodes with decodeURI, which leaves %2C as it is, so grpc-js callers
 * would read "number%2C got 0". Trailers are complete only after the body, hence the wrapper.
 */
export function withSpecGrpcMessage(uRes: UniversalServerResponse): UniversalServerResponse {
  reencode(uRes.header);
  const body = uRes.body;
  if (!body || !uRes.trailer) return uRes;
  const trailer = uRes.trailer;
  return {
    ...uRes,
    body: (async function* () {
      yield* body;
      reencode(trailer);
    })(),
  };
}

function reencode(headers: Headers | undefined): void {
  const value = headers?.get("grpc-message");
  if (!headers || !value) return;
  let text: string;
  try {
    text = decodeURIComponent(value);
  } catch {
    return;
  }
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  headers.set("grpc-message", out);
}
