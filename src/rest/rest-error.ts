import type { Code } from "@connectrpc/connect";
import type { NodeResponse } from "../http/node-types.js";
import { httpStatusFromCode } from "../rpc/error-mapping.js";

/** The JSON Web API error body: numeric gRPC code, message, and details where there are any. */
export interface RestErrorBody {
  code: number;
  message: string;
  details?: unknown[];
}

/** Sends a REST error with the HTTP status of the one code-to-status table. */
export function sendRestError(
  res: NodeResponse,
  code: Code,
  message: string,
  details?: unknown[],
): void {
  const body: RestErrorBody = { code, message, ...(details?.length ? { details } : {}) };
  sendJson(res, httpStatusFromCode(code), body);
}

/** Sends a JSON body with the given status (unless the response has already started). */
export function sendJson(res: NodeResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
