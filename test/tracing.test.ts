/**
 * Tracing: the span tree of one Enroll. In-process with an in-memory exporter for facevault's
 * own spans (the call, face analysis by image and stage, store operations); then a real
 * `facevault serve` with PostgreSQL exporting OTLP/JSON to a collector in this test, for the
 * HTTP and PostgreSQL instrumentations the SDK adds. Off by default: a server without an OTLP
 * endpoint exports nothing.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGrpcJsClient, mintToken } from "@facevault/client";
import { node, tracing } from "@opentelemetry/sdk-node";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startChildServer, stopAllChildServers, withChildOutput } from "./support/child-server.js";
import { photo } from "./support/photos.js";
import { startTestServer, testPostgresUrl } from "./support/test-server.js";

type ReadableSpan = tracing.ReadableSpan;

describe("the span tree of one Enroll, in process", () => {
  it("has the call, its store operations and face analysis by image and stage", async () => {
    const exporter = new tracing.InMemorySpanExporter();
    const provider = new node.NodeTracerProvider({
      spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
    });
    provider.register(); // the context manager that carries the active span across awaits
    // No preload: its store reads at start are traces of their own, not this call's.
    const server = await startTestServer({
      tracer: provider.getTracer("test"),
      config: { search: { preload: false } },
    });
    try {
      const token = await server.token(server.clients.alice);
      const grpc = createGrpcJsClient({ address: server.address, token });
      await grpc.enroll({ classId: 8n, images: [{ image: photo("people/person-01/01.jpg") }] });
      grpc.close();

      const spans = exporter.getFinishedSpans();
      const call = spans.find((s) => s.name === "bioid.services.v1.FaceRecognition/Enroll");
      expect(call, spans.map((s) => s.name).join(", ")).toBeDefined();
      const root = call as ReadableSpan;
      expect(root.attributes).toMatchObject({
        "rpc.system": "grpc",
        "rpc.service": "bioid.services.v1.FaceRecognition",
        "rpc.method": "Enroll",
        "facevault.protocol": "grpc",
        "rpc.grpc.status_code": 0,
      });
      expect(root.attributes["facevault.job_id"]).toMatch(/^[0-9a-f-]{36}$/);
      const childrenOf = (span: ReadableSpan) =>
        spans.filter((s) => s.parentSpanContext?.spanId === span.spanContext().spanId);
      const names = (list: ReadableSpan[]) => list.map((s) => s.name).sort();
      expect(names(childrenOf(root))).toEqual([
        "face.analyze",
        "store.get",
        "store.put",
        "store.recordJob",
      ]);
      const analyze = childrenOf(root).find((s) => s.name === "face.analyze") as ReadableSpan;
      const [image] = childrenOf(analyze);
      expect(image?.name).toBe("face.image");
      expect(names(childrenOf(image as ReadableSpan))).toEqual(
        expect.arrayContaining(["face.decode", "face.detect", "face.align", "face.embed"]),
      );
      for (const span of spans) expect(span.spanContext().traceId).toBe(root.spanContext().traceId);
    } finally {
      await server.close();
      await provider.shutdown();
    }
  });
});

describe("the search preload at start, in process", () => {
  it("puts each partition's load under a search.preload span with the store reads it made", async () => {
    const exporter = new tracing.InMemorySpanExporter();
    const provider = new node.NodeTracerProvider({
      spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
    });
    provider.register();
    const server = await startTestServer({ tracer: provider.getTracer("test") });
    try {
      const preloads = () => exporter.getFinishedSpans().filter((s) => s.name === "search.preload");
      await expect.poll(() => preloads().length, { timeout: 10_000 }).toBe(2);
      expect(preloads().map((s) => s.attributes["facevault.partition"])).toEqual([1, 2]);
      const ids = new Set(preloads().map((s) => s.spanContext().spanId));
      // The reads a load makes (snapshot lookup, template pages): none is a trace of its own.
      const loadReads = exporter
        .getFinishedSpans()
        .filter((s) => ["store.searchSnapshot", "store.compactPage"].includes(s.name));
      expect(loadReads.length).toBeGreaterThanOrEqual(2);
      for (const read of loadReads)
        expect(ids.has(read.parentSpanContext?.spanId ?? "")).toBe(true);
    } finally {
      await server.close();
      await provider.shutdown();
    }
  });
});

describe("a real server exporting OTLP", () => {
  const dir = mkdtempSync(join(tmpdir(), "facevault-otel-"));
  const schema = `fv_otel_${randomBytes(4).toString("hex")}`;
  let collector: Server | undefined;
  afterAll(async () => {
    await stopAllChildServers();
    collector?.close();
    const admin = new pg.Client({ connectionString: testPostgresUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it("adds the HTTP request and the PostgreSQL queries to the trace of a REST Enroll", () =>
    withChildOutput(async () => {
      interface OtlpSpan {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
      }
      const received: OtlpSpan[] = [];
      collector = createServer((req, res) => {
        let body = "";
        req.on("data", (d: Buffer) => {
          body += d;
        });
        req.on("end", () => {
          const json = JSON.parse(body) as {
            resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
          };
          for (const r of json.resourceSpans)
            for (const s of r.scopeSpans) received.push(...s.spans);
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        });
      });
      await new Promise<void>((resolve) => collector?.listen(0, "127.0.0.1", resolve));
      const port = (collector.address() as { port: number }).port;

      const client = {
        clientId: "otel",
        key: randomBytes(64).toString("base64"),
        storage: "bws",
        partition: 1,
      };
      const server = await startChildServer({
        name: "otel",
        dir,
        database: testPostgresUrl,
        databaseSchema: schema,
        masterKey: randomBytes(32).toString("base64"),
        clients: [client],
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_BSP_SCHEDULE_DELAY: "200",
        },
      });
      const token = await mintToken({ clientId: client.clientId, key: client.key, minutes: 5 });
      const res = await fetch(`${server.baseUrl}/api/face/v1/enroll/3`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify([
          { image: Buffer.from(photo("people/person-01/01.jpg")).toString("base64") },
        ]),
      });
      expect(res.status).toBe(200);

      await expect
        .poll(() => received.some((s) => s.name === "bioid.services.v1.FaceRecognition/Enroll"), {
          timeout: 15_000,
        })
        .toBe(true);
      const call = received.find(
        (s) => s.name === "bioid.services.v1.FaceRecognition/Enroll",
      ) as OtlpSpan;
      const trace = received.filter((s) => s.traceId === call.traceId);
      const byId = new Map(trace.map((s) => [s.spanId, s]));
      // The HTTP instrumentation's server span holds the call.
      expect(byId.get(call.parentSpanId ?? "")?.name).toMatch(/^POST/);
      // PostgreSQL queries sit under the store operations of the call.
      const queries = trace.filter((s) =>
        /^pg\.|^(SELECT|INSERT|UPDATE|BEGIN|COMMIT)/.test(s.name),
      );
      expect(queries.length).toBeGreaterThan(0);
      expect(queries.some((q) => byId.get(q.parentSpanId ?? "")?.name.startsWith("store."))).toBe(
        true,
      );
      await server.stop();
    }));
});
