import { Code, ConnectError } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { FacevaultError } from "../errors.js";
import type { NodeRequest } from "./node-types.js";

/** A body codec: Connect's own gzip and brotli, so REST compresses as the RPC protocols do. */
export type BodyCompression = typeof compressionGzip;

/** Content codings accepted on request bodies and offered on responses, preferred first. */
const codecs: readonly BodyCompression[] = [compressionGzip, compressionBrotli];

/**
 * Reads a request body into one Buffer, refusing it as soon as it exceeds `maxBytes`: a declared
 * Content-Length over the limit is refused before reading, and a body without one is cut off
 * when the limit is crossed, so an oversized upload is never buffered whole. A body sent with
 * `Content-Encoding: gzip` or `br` is decompressed, and `maxBytes` applies to both sizes.
 * @throws FacevaultError `resource_exhausted` for an oversized body, `invalid_argument` for an
 *   unknown or broken content coding.
 */
export async function readBody(req: NodeRequest, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const coding = String(req.headers["content-encoding"] ?? "identity")
    .trim()
    .toLowerCase();
  const codec =
    coding === "identity" || coding === "" ? undefined : codecs.find((c) => c.name === coding);
  if (!codec && coding !== "identity" && coding !== "") {
    throw new FacevaultError(
      "invalid_argument",
      `content-encoding '${coding}' is not supported (use gzip, br or identity)`,
      { field: "content-encoding" },
    );
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) throw tooLarge(maxBytes);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof FacevaultError) throw err;
    // The stream broke off: the client went away (or was cut for sending too slowly).
    throw new FacevaultError("cancelled", "the client went away before its request body arrived", {
      cause: err,
    });
  }
  const body = Buffer.concat(chunks, total);
  if (!codec) return body;
  try {
    return await codec.decompress(body, maxBytes);
  } catch (err) {
    const code = ConnectError.from(err).code;
    if (code === Code.ResourceExhausted) throw tooLarge(maxBytes, "after decompression");
    throw new FacevaultError("invalid_argument", `body is not valid ${codec.name} data`, {
      field: "body",
      cause: err,
    });
  }
}

/**
 * The content coding for a response to a request with this Accept-Encoding header, or undefined
 * for identity. gzip is preferred over br when both are accepted: brotli at its default quality
 * costs far more CPU for little gain on JSON of this size.
 */
export function responseCompression(
  acceptEncoding: string | string[] | undefined,
): BodyCompression | undefined {
  const header = Array.isArray(acceptEncoding) ? acceptEncoding.join(",") : (acceptEncoding ?? "");
  const accepted = new Set<string>();
  for (const part of header.split(",")) {
    const [name = "", ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    if (name && (q === undefined || Number(q.slice(2)) > 0)) accepted.add(name);
  }
  return codecs.find((c) => accepted.has(c.name) || accepted.has("*"));
}

function tooLarge(maxBytes: number, when = ""): FacevaultError {
  return new FacevaultError(
    "resource_exhausted",
    `request body is larger than the limit of ${maxBytes} bytes${when ? ` ${when}` : ""}`,
  );
}
