import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import openApiDocument from "../../gen/openapi/openapi.json" with { type: "json" };
import type { NodeRequest, NodeResponse } from "../http/node-types.js";

export interface ApiDocsOptions {
  /** The document served at /openapi.json. Default: gen/openapi/openapi.json (`buf generate`). */
  document?: object;
  /** Folder holding the swagger-ui-dist files. Default: the installed `swagger-ui-dist`. */
  swaggerUiDir?: string;
  /** Title of the docs page. Default "facevault API". */
  title?: string;
}

/** Serves the request when it is one of the docs routes; false for every other request. */
export type ApiDocsHandler = (req: NodeRequest, res: NodeResponse) => boolean;

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
  /** Gzip of the body, made on first use, for the larger text assets. */
  gzip?: Buffer;
  /** Content-Security-Policy of an HTML page. */
  csp?: string;
}

/** swagger-ui-dist files served under /docs/, with their content types. */
const swaggerUiFiles = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
} as const;

/**
 * Swagger UI needs inline style attributes; everything else comes from this server. Scripts are
 * files (no inline script), and nothing is fetched from elsewhere: no CDN, no validator badge.
 */
const docsCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/**
 * GET and HEAD of the API description and its docs page:
 * - `/openapi.json`: the OpenAPI 3.1 document of the JSON Web API,
 * - `/docs`: Swagger UI (swagger-ui-dist, served from node_modules) rendering that document,
 *   with its files under `/docs/`.
 * Links are relative, so the page also works behind a proxy that adds a path prefix. Answers
 * carry an ETag (304 on a match) and are gzipped when the client accepts it. The files are read
 * once, when the handler is made.
 */
export function createApiDocs(options: ApiDocsOptions = {}): ApiDocsHandler {
  const document = options.document ?? openApiDocument;
  const swaggerUiDir = options.swaggerUiDir ?? defaultSwaggerUiDir();
  const title = options.title ?? "facevault API";

  const assets = new Map<string, Asset>();
  assets.set("/openapi.json", asset("application/json; charset=utf-8", JSON.stringify(document)));
  assets.set("/docs", {
    ...asset("text/html; charset=utf-8", docsHtml(title)),
    csp: docsCsp,
  });
  assets.set("/docs/init.js", asset("text/javascript; charset=utf-8", initScript));
  for (const [name, type] of Object.entries(swaggerUiFiles)) {
    assets.set(`/docs/${name}`, asset(type, readFileSync(join(swaggerUiDir, name))));
  }

  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (path === "/docs/") {
      // Relative links of the page resolve against /docs, not /docs/.
      res.writeHead(301, { location: "../docs", "content-length": 0 });
      res.end();
      return true;
    }
    const found = assets.get(path);
    if (!found) return false;
    send(req, res, found);
    return true;
  };
}

function defaultSwaggerUiDir(): string {
  // The package root, found from its package.json: requiring the package itself would load
  // the 1.7 MB browser bundle into the server.
  return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

function asset(type: string, content: string | Buffer): Asset {
  const body = typeof content === "string" ? Buffer.from(content) : content;
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  return { type, body, etag };
}

function send(req: NodeRequest, res: NodeResponse, asset: Asset): void {
  const headers: Record<string, string | number> = {
    "content-type": asset.type,
    etag: asset.etag,
    // Revalidate every time: a 304 is cheap and an upgrade shows at once.
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    vary: "accept-encoding",
    ...(asset.csp ? { "content-security-policy": asset.csp } : {}),
  };
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  let body = asset.body;
  const compressible = !asset.type.startsWith("image/") && body.length > 1024;
  if (compressible && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
    asset.gzip ??= gzipSync(asset.body);
    body = asset.gzip;
    headers["content-encoding"] = "gzip";
  }
  headers["content-length"] = body.length;
  res.writeHead(200, headers);
  if (req.method === "HEAD") res.end();
  else res.end(body);
}

function docsHtml(title: string): string {
  const safeTitle = title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${safeTitle}</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;
}

/** Starts Swagger UI on the document next to the page; the token is never stored. */
const initScript = `"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    persistAuthorization: false,
    displayOperationId: false,
    defaultModelsExpandDepth: 0,
  });
});
`;
