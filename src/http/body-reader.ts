import { FacevaultError } from "../errors.js";
import type { NodeRequest } from "./node-types.js";

/**
 * Reads a request body into one Buffer, refusing it as soon as it exceeds `maxBytes`: a declared
 * Content-Length over the limit is refused before reading, and a body without one is cut off
 * when the limit is crossed, so an oversized upload is never buffered whole.
 * @throws FacevaultError `resource_exhausted` (413) for an oversized body.
 */
export async function readBody(req: NodeRequest, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(maxBytes: number): FacevaultError {
  return new FacevaultError(
    "resource_exhausted",
    `request body is larger than the limit of ${maxBytes} bytes`,
  );
}
