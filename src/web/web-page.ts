import type { NodeRequest, NodeResponse } from "../http/node-types.js";
import { pageHtml } from "./page-html.js";

/**
 * Serves the try-it page at GET / (and /index.html). Returns false for every other request.
 * The page calls the JSON Web API from the same origin, with the token the user pastes.
 */
export function serveWebPage(req: NodeRequest, res: NodeResponse): boolean {
  const path = (req.url ?? "/").split("?", 1)[0];
  if (req.method !== "GET" || (path !== "/" && path !== "/index.html")) return false;
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(pageHtml),
    // The page loads nothing from elsewhere; keep it that way.
    "content-security-policy":
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src 'self'",
    "x-content-type-options": "nosniff",
  });
  res.end(pageHtml);
  return true;
}
