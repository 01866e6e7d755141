/**
 * The service under load and at its edges in time: readiness after warm-up, a full analysis
 * queue, cancelled calls, and a graceful stop with a call in flight.
 */

import { readFileSync } from "node:fs";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createConnectClient, createGrpcJsClient, createTokenSource } from "@facevault/client";
import { afterEach, describe, expect, it } from "vitest";
import { FaceRecognition } from "../gen/bioid/services/v1/face_recognition_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus as Serving,
} from "../gen/grpc/health/v1/health_pb.js";
import { photo } from "./support/photos.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function api(s: TestServer) {
  const { alice } = s.clients;
  return createConnectClient({
    baseUrl: s.baseUrl,
    protocol: "grpc",
    token: createTokenSource({ clientId: alice.clientId, key: alice.key }),
  });
}

const big = () => ({ image: photo("sizes/obama-1080p.jpg") });

describe("lifecycle", () => {
  it("answers livez at once and readyz only after the models are warm", async () => {
    server = await startTestServer();
    // A second app on the same files, listening before warm-up.
    const restarted = await server.restart();
    server = restarted;
    expect((await fetch(`${restarted.baseUrl}/readyz`)).status).toBe(200);
    const cold = await (await import("../src/app.js")).createApp(restarted.app.config, {
      logger: restarted.app.logger,
    });
    try {
      const address = await cold.listen();
      const base = `http://127.0.0.1:${address.port}`;
      expect((await fetch(`${base}/livez`)).status).toBe(200);
      const before = await fetch(`${base}/readyz`);
      expect(before.status).toBe(503);
      expect(await before.json()).toEqual({
        status: "not ready",
        reasons: ["face models are warming up"],
      });
      await cold.ready();
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    } finally {
      await cold.stop();
    }
  });

  it("reports gRPC health by name, and Watch follows warm-up and shutdown", async () => {
    server = await startTestServer();
    const cold = await (await import("../src/app.js")).createApp(server.app.config, {
      logger: server.app.logger,
    });
    const address = await cold.listen();
    const health = createClient(
      Health,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${address.port}` }),
    );
    try {
      const check = async (service: string) => (await health.check({ service })).status;
      expect(await check("liveness")).toBe(Serving.SERVING);
      for (const name of ["", "readiness", FaceRecognition.typeName]) {
        expect(await check(name), name).toBe(Serving.NOT_SERVING);
      }
      await expect(check("no.such.Service")).rejects.toMatchObject({ code: Code.NotFound });

      const seen: Serving[] = [];
      const watching = (async () => {
        for await (const update of health.watch({ service: "readiness" })) seen.push(update.status);
      })().catch((err: unknown) => ConnectError.from(err).code);
      const unknown = health.watch({ service: "no.such.Service" })[Symbol.asyncIterator]();
      expect((await unknown.next()).value?.status).toBe(Serving.SERVICE_UNKNOWN);
      await unknown.return?.();

      await expect.poll(() => seen).toEqual([Serving.NOT_SERVING]);
      await cold.ready();
      await expect.poll(() => seen).toEqual([Serving.NOT_SERVING, Serving.SERVING]);
      for (const name of ["", "readiness", FaceRecognition.typeName]) {
        expect(await check(name), name).toBe(Serving.SERVING);
      }
      // On stop the watcher hears NOT_SERVING, then the stream ends: it does not hold the stop
      // up for the grace period.
      const started = Date.now();
      await cold.stop();
      expect(Date.now() - started).toBeLessThan(server.app.config.limits.shutdownGraceMs);
      expect(seen).toEqual([Serving.NOT_SERVING, Serving.SERVING, Serving.NOT_SERVING]);
      expect(await watching).toBeUndefined();
    } finally {
      await cold.stop();
    }
  });

  it("cuts a client deadline longer than the server's to it, and drops the call's queued work", async () => {
    server = await startTestServer({
      config: { face: { workers: 1 }, limits: { requestTimeoutMs: 1500 } },
    });
    const s = server;
    const token = await s.token(s.clients.alice);
    const grpc = createGrpcJsClient({ address: s.address, token });
    try {
      const started = Date.now();
      const err = await grpc
        .enroll(
          { classId: 21n, images: Array.from({ length: 32 }, big) },
          { timeoutMs: 5 * 60_000 },
        )
        .catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
      expect((err as ConnectError).rawMessage).toMatch(/server's deadline/);
      // 32 1080p images (the most a request may hold) take one worker 3.5 s and more, far
      // longer than the 1.5 s the server allows.
      expect(Date.now() - started).toBeLessThan(12_000);
      // What waited in the queue is dropped at once, not analysed for nobody.
      expect(s.app.faces.stats().queued).toBe(0);
      expect(await s.app.store.get({ storage: "bws", partition: 1, classId: 21n })).toBeUndefined();
    } finally {
      grpc.close();
    }
  });

  it("answers a 1 ms deadline with DEADLINE_EXCEEDED on every protocol, 504 on REST", async () => {
    server = await startTestServer({ config: { face: { workers: 1 } } });
    const s = server;
    const token = await s.token(s.clients.alice);
    const request = { classId: 22n, images: [big()] };
    const grpc = createGrpcJsClient({ address: s.address, token });
    const codes: Record<string, Code> = {};
    codes["grpc-js"] = ConnectError.from(
      await grpc.enroll(request, { timeoutMs: 1 }).catch((e: unknown) => e),
    ).code;
    grpc.close();
    for (const protocol of ["connect", "grpc", "grpc-web"] as const) {
      const client = createConnectClient({ baseUrl: s.baseUrl, protocol, token });
      codes[protocol] = ConnectError.from(
        await client.enroll(request, { timeoutMs: 1 }).catch((e: unknown) => e),
      ).code;
    }
    const res = await fetch(`${s.baseUrl}/api/face/v1/enroll/22`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "grpc-timeout": "1m",
      },
      body: JSON.stringify([{ image: Buffer.from(big().image).toString("base64") }]),
    });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ code: Code.DeadlineExceeded });
    expect(codes).toEqual({
      "grpc-js": Code.DeadlineExceeded,
      connect: Code.DeadlineExceeded,
      grpc: Code.DeadlineExceeded,
      "grpc-web": Code.DeadlineExceeded,
    });
    // Nothing waits; an image already in a worker runs to its end (slow on a busy box).
    expect(s.app.faces.stats().queued).toBe(0);
    await expect.poll(() => s.app.faces.stats().running, { timeout: 30_000 }).toBe(0);
    expect(await s.app.store.get({ storage: "bws", partition: 1, classId: 22n })).toBeUndefined();
  });

  it("refuses work with UNAVAILABLE (503) when the analysis queue is full, and recovers", async () => {
    server = await startTestServer({
      config: {
        // One image in the worker at a time keeps "2 waiting" below exact.
        face: { workers: 1, maxQueue: 3, jobsPerWorker: 1 },
        limits: { maxImagesPerRequest: 3 },
        templates: { maxFeatureVectors: 3 },
      },
    });
    const s = server;
    const client = api(s);
    const first = client.enroll({ classId: 1n, images: [big(), big(), big()] });
    await expect
      .poll(() => s.app.faces.stats().running + s.app.faces.stats().queued, { timeout: 10_000 })
      .toBe(3);
    const token = await s.token(s.clients.alice);
    const res = await fetch(`${s.baseUrl}/api/face/v1/enroll/2`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      // 2 waiting + 2 more > maxQueue 3 (the image being analysed does not wait).
      body: JSON.stringify(
        [big(), big()].map((i) => ({ image: Buffer.from(i.image).toString("base64") })),
      ),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      code: Code.Unavailable,
      message: expect.stringMatching(/queue is full/),
    });
    expect((await first).enrolledImages).toBe(3);
    // Once the queue drains the same call succeeds.
    expect((await client.enroll({ classId: 2n, images: [big()] })).enrolledImages).toBe(1);
  });

  it("stops the work of a cancelled call, records CANCELLED and writes nothing", async () => {
    server = await startTestServer({ config: { face: { workers: 1, maxQueue: 64 } } });
    const s = server;
    const controller = new AbortController();
    const call = api(s).enroll(
      { classId: 5n, images: Array.from({ length: 12 }, big) },
      { signal: controller.signal },
    );
    await expect.poll(() => s.app.faces.stats().queued, { timeout: 10_000 }).toBeGreaterThan(5);
    controller.abort();
    expect(ConnectError.from(await call.catch((e: unknown) => e)).code).toBe(Code.Canceled);
    // The queued images of the call are dropped, not analysed for nobody.
    await expect.poll(() => s.app.faces.stats().queued).toBe(0);
    // The image already being analysed runs to its end (slow when both cores are busy).
    await expect.poll(() => s.app.faces.stats().running, { timeout: 30_000 }).toBe(0);
    await expect
      .poll(async () => {
        await s.app.server.drainBookkeeping();
        const jobs = await s.app.jobLog.listJobs({ clientId: "alice" });
        return jobs.find((j) => j.method === "Enroll")?.outcome;
      })
      .toBe(Code.Canceled);
    expect(await s.app.store.get({ storage: "bws", partition: 1, classId: 5n })).toBeUndefined();
  });

  it("finishes an in-flight call on stop, then refuses new connections", async () => {
    server = await startTestServer({ config: { face: { workers: 1 } } });
    const s = server;
    const pending = api(s).enroll({ classId: 9n, images: [big(), big()] });
    await expect.poll(() => s.app.faces.stats().running, { timeout: 10_000 }).toBe(1);
    const stopped = s.app.stop();
    const done = await pending;
    expect(done.enrolledImages).toBe(2);
    await stopped;
    await expect(fetch(`${s.baseUrl}/livez`)).rejects.toThrow();
    // The bookkeeping of the finished call made it to the store before it closed.
    server = await s.restart();
    const jobs = await server.app.jobLog.listJobs({ clientId: "alice" });
    expect(jobs.find((j) => j.method === "Enroll")).toMatchObject({ outcome: 0, imageCount: 2 });
  });
});

it("keeps the fixtures it relies on", () => {
  expect(
    readFileSync(new URL("./fixtures/faces/sizes/obama-1080p.jpg", import.meta.url)).length,
  ).toBeGreaterThan(10_000);
});
