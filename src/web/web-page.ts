import type { NodeRequest, NodeResponse } from "../http/node-types.js";
import { adminPageHtml } from "./admin-page-html.js";
import { pageHtml } from "./page-html.js";

/**
 * Serves the try-it page at GET / (and /index.html) and the admin page at GET /admin. Returns
 * false for every other request. The pages call the JSON Web API (the admin page: the admin
 * API) from the same origin, with the token or admin key the user pastes.
 */
export function serveWebPage(req: NodeRequest, res: NodeResponse): boolean {
  const path = (req.url ?? "/").split("?", 1)[0];
  if (req.method !== "GET") return false;
  const page =
    path === "/" || path === "/index.html"
      ? pageHtml
      : path === "/admin"
        ? adminPageHtml
        : undefined;
  if (page === undefined) return false;
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(page),
    // The page loads nothing from elsewhere; keep it that way.
    "content-security-policy":
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src 'self'",
    "x-content-type-options": "nosniff",
  });
  res.end(page);
  return true;
}
