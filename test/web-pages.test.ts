/**
 * The two pages a person opens, in a real headless Chromium (Debian's, installed by .ci/run):
 * the try-it page at / and the API docs at /docs render their content with no console error
 * and load nothing from another origin. The pages are served by their own handlers, composed as
 * the server composes them, on a plain HTTP server (no face engine needed to render them).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiDocs } from "../src/web/api-docs.js";
import { serveWebPage } from "../src/web/web-page.js";
import { type Chromium, launchChromium, visit as visitPage } from "./support/chromium.js";

let server: Server;
let base: string;
let chromium: Chromium;

beforeAll(async () => {
  const docs = createApiDocs();
  server = createServer((req, res) => {
    if (serveWebPage(req, res) || docs(req, res)) return;
    res.writeHead(404, { "content-type": "application/json" }).end('{"code":5}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

const visit = (path: string) => visitPage(chromium.browser, base, path);

describe("pages in headless Chromium", () => {
  it("renders the API docs at /docs from /openapi.json", async () => {
    const { page, problems, foreign } = await visit("/docs");
    await expect.poll(() => page.locator(".opblock").count(), { timeout: 30_000 }).toBe(15);
    const title = page.locator(".info .title").first();
    expect(await title.isVisible()).toBe(true);
    expect(await title.textContent()).toMatch(/facevault JSON Web API/);
    const summaries = await page.locator(".opblock-summary-path").allInnerTexts();
    expect(summaries.map((s) => s.replace(/\u200b/g, ""))).toEqual([
      "/api/v1/livenessdetection",
      "/api/v1/videolivenessdetection",
      "/api/v1/photoverify",
      "/api/face/v1/enroll/{classId}",
      "/api/face/v1/verify/{classId}",
      "/api/face/v1/search",
      "/api/face/v1/template/{classId}/tags",
      "/api/face/v1/template/status/{classId}",
      "/api/face/v1/template/{classId}",
      "/api/admin/v1/partitions",
      "/api/admin/v1/storages/{storage}/partitions/{partition}/templates", // GET
      "/api/admin/v1/storages/{storage}/partitions/{partition}/templates", // DELETE
      "/api/admin/v1/storages/{storage}/partitions/{partition}/templates/{classId}",
      "/api/admin/v1/jobs",
      "/api/admin/v1/jobs:prune",
    ]);
    expect(await page.locator(".opblock").first().isVisible()).toBe(true);
    // The bearer scheme gives an Authorize button; no resolver or parser errors are shown.
    expect(await page.locator("button.authorize").isVisible()).toBe(true);
    expect(await page.locator(".errors-wrapper").count()).toBe(0);

    // Opening an operation shows its parameters and the documented answers.
    const statusAt = summaries
      .map((s) => s.replace(/\u200b/g, ""))
      .indexOf("/api/face/v1/template/status/{classId}");
    await page.locator(".opblock-summary").nth(statusAt).click();
    const opened = page.locator(".opblock.is-open");
    await expect
      .poll(() => opened.locator(".parameter__name").allInnerTexts())
      .toContain("downloadThumbnails");
    const codes = await opened.locator(".responses-table .response-col_status").allInnerTexts();
    expect(codes.map((c) => c.trim())).toEqual(
      expect.arrayContaining(["200", "400", "401", "404", "413", "500", "503", "504"]),
    );

    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  });

  it("renders the try-it page at /", async () => {
    const { page, problems, foreign } = await visit("/");
    expect(await page.locator("h1").isVisible()).toBe(true);
    expect(await page.locator("h1").textContent()).toBe("facevault: try the JSON Web API");
    for (const id of ["#token", "#classId", "#files", "#enroll", "#verify", "#search"]) {
      expect(await page.locator(id).isVisible(), id).toBe(true);
    }
    expect(await page.locator("#enroll").textContent()).toBe("Enroll");
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  });
});
