/**
 * The admin page at /admin in headless Chromium against a real server: a real enrollment (one
 * photo) and a status call, then the page, driven as an operator would, must show the
 * partition, the enrolled class id with its tags and, on request, its thumbnail, and the call
 * log rows, filtered.
 */
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ENCODER_VERSION } from "../src/face/encoders.js";
import { type Chromium, launchChromium, visit } from "./support/chromium.js";
import { photo } from "./support/photos.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const adminKey = randomBytes(32).toString("base64url");
let server: TestServer;
let chromium: Chromium;

beforeAll(async () => {
  server = await startTestServer({
    config: { admins: [{ id: "ops", key: adminKey, scopes: ["bws/*"] }] },
  });
  const token = await server.token(server.clients.alice);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const image = `data:image/jpeg;base64,${Buffer.from(photo("people/person-01/01.jpg")).toString("base64")}`;
  const enrolled = await fetch(`${server.baseUrl}/api/face/v1/enroll/4242`, {
    method: "POST",
    headers: { ...headers, "reference-number": "page-enroll" },
    body: JSON.stringify([{ image }]),
  });
  expect(((await enrolled.json()) as { performedAction: string }).performedAction).toBe(
    "NEW_TEMPLATE_CREATED",
  );
  const tagged = await fetch(`${server.baseUrl}/api/face/v1/template/4242/tags`, {
    method: "PUT",
    headers,
    body: JSON.stringify(["night-shift"]),
  });
  expect(tagged.status).toBe(200);
  await server.app.server.drainBookkeeping();
  chromium = await launchChromium();
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

describe("admin page in headless Chromium", () => {
  it("shows partitions, the enrolled class with its thumbnail on request, and the call log", async () => {
    const { page, problems, foreign } = await visit(chromium.browser, server.baseUrl, "/admin");
    expect(await page.locator("h1").textContent()).toBe("facevault admin");
    await page.fill("#key", adminKey);
    await page.click("#load");

    const partition = page.locator("#partitions tbody tr");
    await expect.poll(() => partition.count()).toBe(1);
    expect(await partition.first().locator("td").allInnerTexts()).toEqual([
      "bws",
      "1",
      "1",
      "1",
      "1",
      "2",
    ]);

    await partition.first().click();
    const template = page.locator("#templates tbody tr");
    await expect.poll(() => template.count()).toBe(1);
    const cells = await template.first().locator("td").allInnerTexts();
    expect(cells.slice(0, 3)).toEqual(["4242", "night-shift", String(DEFAULT_ENCODER_VERSION)]);
    expect(await page.locator("#total").textContent()).toBe("1 template(s)");
    // A tag nobody carries lists nothing.
    await page.fill("#tag", "day-shift");
    await page.click("#filter");
    await expect.poll(() => page.locator("#total").textContent()).toBe("0 template(s)");
    await page.fill("#tag", "night-shift");
    await page.click("#filter");
    await expect.poll(() => template.count()).toBe(1);

    // Thumbnails only on request: a real image of the enrolled face.
    expect(await page.locator("img.thumb").count()).toBe(0);
    await template.first().locator("button.thumbs").click();
    const thumb = page.locator("img.thumb").first();
    await expect
      .poll(() =>
        thumb.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
      )
      .toBeGreaterThan(32);
    const shot = await thumb.screenshot();
    const { channels } = await sharp(shot).stats();
    // A face, not a blank box: the screenshot's pixels vary.
    expect(Math.max(...channels.map((c) => c.stdev))).toBeGreaterThan(10);

    const log = page.locator("#log tbody tr");
    await expect.poll(() => log.count()).toBeGreaterThanOrEqual(2);
    const enrollRow = log.filter({ hasText: "page-enroll" });
    expect(await enrollRow.count()).toBe(1);
    const row = await enrollRow.locator("td").allInnerTexts();
    expect(row.slice(1, 5)).toEqual(["alice", "Enroll", "0", "page-enroll"]);
    expect(row[7]).toBe("NEW_TEMPLATE_CREATED");
    await page.fill("#method", "SetTemplateTags");
    await page.click("#jobs");
    await expect.poll(() => log.first().locator("td").nth(2).textContent()).toBe("SetTemplateTags");
    expect(await log.count()).toBe(1);

    // A wrong key says so on the page.
    await page.fill("#key", "not-the-key-not-the-key-not-the-key");
    await page.click("#load");
    await expect
      .poll(() => page.locator("#message").textContent())
      .toMatch(/admin key is not valid/);

    expect(problems.filter((p) => !p.includes("401"))).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  });
});
