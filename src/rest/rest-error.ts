import type { Code } from "@connectrpc/connect";
import type { NodeResponse } from "../http/node-types.js";
import { httpStatusFromCode } from "../rpc/error-mapping.js";

/** The JSON Web API error body: numeric gRPC code, message, and details (empty when none). */
export interface RestErrorBody {
  code: number;
  message: string;
  details: unknown[];
}

/**
 * Sends a JSON error with the HTTP status of the one code-to-status table; used for REST calls
 * and for every plain HTTP answer (unknown route, health) alike. `status` overrides it only
 * where HTTP has a more precise answer than any gRPC code (405 for a known path).
 */
export function sendRestError(
  res: NodeResponse,
  code: Code,
  message: string,
  options: { headers?: Record<string, string>; status?: number } = {},
): void {
  const body: RestErrorBody = { code, message, details: [] };
  const status = options.status ?? httpStatusFromCode(code);
  sendJsonText(res, status, JSON.stringify(body), options.headers);
}

/** Sends JSON text with the given status (unless the response has already started). */
export function sendJsonText(
  res: NodeResponse,
  status: number,
  text: string | Uint8Array,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": typeof text === "string" ? Buffer.byteLength(text) : text.byteLength,
  });
  res.end(text);
}
