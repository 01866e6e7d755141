/**
 * Prometheus metrics after real calls: the counts move by what was done, the face pipeline and
 * the store report their timings, and nothing a client sent ends up in a label.
 */
import { createGrpcJsClient } from "@facevault/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { photo } from "./support/photos.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ config: { limits: { maxRequestBytes: 64 * 1024 } } });
  token = await server.token(server.clients.alice);
});
afterAll(async () => server?.close());

async function scrape(base = server.baseUrl): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of one sample, e.g. `facevault_calls_total{method="Enroll",...}`; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return 0;
}

describe("GET /metrics", () => {
  it("counts calls by method, protocol and code, and times the pipeline and the store", async () => {
    const before = await scrape();
    const rest = (path: string, init: RequestInit = {}) =>
      fetch(`${server.baseUrl}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${token}`,
          "reference-number": "secret-ref-77",
          ...init.headers,
        },
      });
    expect((await rest("/api/face/v1/template/status/987654321")).status).toBe(200);
    expect((await rest("/api/face/v1/template/status/0")).status).toBe(400);
    const big = JSON.stringify(["x".repeat(70 * 1024)]);
    expect((await rest("/api/face/v1/template/1/tags", { method: "PUT", body: big })).status).toBe(
      413,
    );
    const grpc = createGrpcJsClient({ address: server.address, token });
    await grpc.enroll({ classId: 5n, images: [{ image: photo("people/person-01/01.jpg") }] });
    grpc.close();

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(
      moved("facevault_calls_total", { method: "GetTemplateStatus", protocol: "rest", code: "OK" }),
    ).toBe(1);
    expect(
      moved("facevault_calls_total", {
        method: "GetTemplateStatus",
        protocol: "rest",
        code: "INVALID_ARGUMENT",
      }),
    ).toBe(1);
    expect(moved("facevault_calls_total", { method: "Enroll", protocol: "grpc", code: "OK" })).toBe(
      1,
    );
    expect(
      moved("facevault_call_duration_seconds_count", { method: "Enroll", protocol: "grpc" }),
    ).toBe(1);
    expect(moved("facevault_requests_refused_total", { status: "413" })).toBe(1);
    expect(moved("facevault_face_stage_duration_seconds_count", { stage: "decode" })).toBe(1);
    expect(moved("facevault_face_stage_duration_seconds_count", { stage: "embed" })).toBe(1);
    expect(moved("facevault_store_operation_duration_seconds_count", { operation: "put" })).toBe(1);
    expect(
      moved("facevault_store_operation_duration_seconds_count", { operation: "get" }),
    ).toBeGreaterThanOrEqual(2);
    expect(sample(after, "facevault_face_workers")).toBe(1);
    expect(sample(after, "facevault_face_workers_configured")).toBe(1);
    expect(after).toMatch(/^facevault_face_queue_depth 0$/m);
    expect(after).toMatch(/^process_cpu_user_seconds_total /m);
    // Bounded labels: no class id, no reference number.
    expect(after).not.toContain("987654321");
    expect(after).not.toContain("secret-ref-77");
  });
});

describe("metrics.port", () => {
  it("serves /metrics on a port of its own and not on the API's", async () => {
    const own = await startTestServer({ config: { metrics: { port: 0 } } });
    try {
      const address = own.app.metricsAddress();
      expect(address?.port).toBeGreaterThan(0);
      expect(await scrape(`http://127.0.0.1:${address?.port}`)).toMatch(
        /^# TYPE facevault_calls_total counter$/m,
      );
      expect((await fetch(`${own.baseUrl}/metrics`)).status).toBe(404);
    } finally {
      await own.close();
    }
  });
});
