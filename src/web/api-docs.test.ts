import { readFileSync } from "node:fs";
import { createServer, get, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiDocs } from "./api-docs.js";

const generated = JSON.parse(
  readFileSync(new URL("../../gen/openapi/openapi.json", import.meta.url), "utf8"),
);
let server: Server;
let base: string;

beforeAll(async () => {
  const docs = createApiDocs();
  server = createServer((req, res) => {
    if (docs(req, res)) return;
    res.writeHead(404).end("not docs");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A GET with exactly these headers (fetch adds its own accept-encoding) and the raw body. */
function rawGet(path: string, headers: Record<string, string>) {
  return new Promise<{ headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    get(base + path, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    }).on("error", reject);
  });
}

describe("API docs handler", () => {
  it("serves the generated OpenAPI document with an ETag", async () => {
    const res = await fetch(`${base}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await res.json()).toEqual(generated);
    const etag = res.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    const again = await fetch(`${base}/openapi.json`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
  });

  it("answers HEAD with the headers of GET and no body", async () => {
    const head = await fetch(`${base}/openapi.json`, {
      method: "HEAD",
      headers: { "accept-encoding": "identity" },
    });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get("content-length"))).toBe(JSON.stringify(generated).length);
    expect(await head.text()).toBe("");
  });

  it("serves the docs page with relative links only and a strict CSP", async () => {
    const res = await fetch(`${base}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toMatch(/script-src 'self';/);
    const html = await res.text();
    expect(html).toContain('<script src="docs/swagger-ui-bundle.js"></script>');
    expect(html).not.toMatch(/(https?:)?\/\/[a-z]/i); // nothing from elsewhere
    const init = await (await fetch(`${base}/docs/init.js`)).text();
    expect(init).toContain("validatorUrl: null");
  });

  it("serves the Swagger UI files from node_modules, gzipped when accepted", async () => {
    const file = readFileSync(
      new URL("../../node_modules/swagger-ui-dist/swagger-ui-bundle.js", import.meta.url),
    );
    const plain = await rawGet("/docs/swagger-ui-bundle.js", {});
    expect(plain.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body.equals(file)).toBe(true);
    const zipped = await rawGet("/docs/swagger-ui-bundle.js", { "accept-encoding": "gzip" });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.body.length).toBeLessThan(file.length / 2);
    expect(gunzipSync(zipped.body).equals(file)).toBe(true);
    const icon = await rawGet("/docs/favicon-32x32.png", { "accept-encoding": "gzip" });
    expect(icon.headers["content-type"]).toBe("image/png");
    expect(icon.headers["content-encoding"]).toBeUndefined();
  });

  it("leaves every other request to the server", async () => {
    expect((await fetch(`${base}/docs/`, { redirect: "manual" })).headers.get("location")).toBe(
      "../docs",
    );
    for (const [method, path] of [
      ["POST", "/docs"],
      ["GET", "/docs/index.html"],
      ["GET", "/docs/../package.json"],
      ["GET", "/"],
      ["DELETE", "/openapi.json"],
    ] as const) {
      const res = await fetch(base + path, { method });
      expect(await res.text(), `${method} ${path}`).toBe("not docs");
    }
  });
});
