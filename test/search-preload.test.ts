/**
 * Search indexes are loaded when the server starts listening (setting `search.preload`), not at
 * a partition's first Search: seen through /metrics, with a real server on a real SQLite file.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedTemplate } from "./support/seed.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let server: TestServer;

// Encoder 2 is the one seedTemplate's vectors are made for (128-D), so the index holds them.
const config = { face: { workers: 1, encoderVersion: 2 } };

beforeAll(async () => {
  server = await startTestServer({ config: { ...config, search: { preload: false } } });
  for (let classId = 1n; classId <= 3n; classId++) {
    await seedTemplate(server.app, server.clients.alice, classId);
  }
  await seedTemplate(server.app, server.clients.bob, 7n);
});
afterAll(async () => server?.close());

/** Samples of one metric whose labels include `labels`, summed; 0 when there is none. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

describe("search.preload", () => {
  it("false: no partition is loaded before a Search asks for it", async () => {
    await sleep(200);
    expect(await metric("facevault_search_index_load_seconds_count", {})).toBe(0);
    expect(await metric("facevault_search_templates", { partition: "1" })).toBe(0);
  });

  it("true (the default): every configured partition is loaded at start, without a call", async () => {
    // The search section's defaults: the earlier start's `preload: false` replaced.
    server = await server.restart({ search: {} });
    const deadline = Date.now() + 10_000;
    while (
      (await metric("facevault_search_index_load_seconds_count", { source: "templates" })) < 2 &&
      Date.now() < deadline
    ) {
      await sleep(25);
    }
    expect(await metric("facevault_search_index_load_seconds_count", { source: "templates" })).toBe(
      2,
    );
    expect(await metric("facevault_search_templates", { storage: "bws", partition: "1" })).toBe(3);
    expect(await metric("facevault_search_templates", { storage: "bws", partition: "2" })).toBe(1);
  });
});
