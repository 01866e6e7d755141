/**
 * `npm run bench:transport`: what each protocol costs on top of the same work. GetTemplateStatus
 * of a stored template (transport, auth and one store read) and a 1-image Enroll (640x480, the
 * face pipeline behind it), over gRPC (grpc-js), Connect JSON, Connect binary, gRPC-Web and REST,
 * each with and without gzip; p50/p99 latency and calls/s as ratios to gRPC without compression
 * measured in the same run, rounds interleaved (the box is noisy).
 */

import { gzipSync } from "node:zlib";
import { createClient } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { createGrpcJsClient, createTokenSource } from "@facevault/client";
import { FaceRecognition } from "../gen/bioid/services/v1/face_recognition_pb.js";
import { median, photosAt, reportSummary, startBenchServer, throughput } from "./bench-support.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const statusCalls = Number(process.env.BENCH_STATUS_CALLS ?? 1500);
const latencyCalls = Number(process.env.BENCH_LATENCY_CALLS ?? 200);
const enrollImages = Number(process.env.BENCH_IMAGES ?? 40);
const inFlight = 16;

interface Variant {
  name: string;
  status(): Promise<unknown>;
  enroll(image: Buffer, classId: bigint): Promise<unknown>;
  close(): void;
}

const server = await startBenchServer();
const token = createTokenSource({ clientId: server.clientId, key: server.key, minutes: 60 });
const photos = await photosAt(640, 480);
const stored = 1n;
await createGrpcJsClient({ address: server.address, token }).enroll({
  classId: stored,
  images: [{ image: photos[0] as Buffer }],
});

function grpcJs(gzip: boolean): Variant {
  const client = createGrpcJsClient({
    address: server.address,
    token,
    ...(gzip ? { channelOptions: { "grpc.default_compression_algorithm": 2 } } : {}),
  });
  return {
    name: `gRPC (grpc-js)${gzip ? " gzip" : ""}`,
    status: () => client.getTemplateStatus({ classId: stored }),
    enroll: (image, classId) => client.enroll({ classId, images: [{ image }] }),
    close: () => client.close(),
  };
}

function connect(kind: "connect-json" | "connect-binary" | "grpc-web", gzip: boolean): Variant {
  const compression = gzip
    ? { sendCompression: compressionGzip, acceptCompression: [compressionGzip] }
    : { acceptCompression: [] };
  const options = { baseUrl: server.baseUrl, httpVersion: "1.1" as const, ...compression };
  const transport =
    kind === "grpc-web"
      ? createGrpcWebTransport({ ...options, useBinaryFormat: true })
      : createConnectTransport({ ...options, useBinaryFormat: kind === "connect-binary" });
  const client = createClient(FaceRecognition, transport);
  const headers = async () => ({ authorization: `Bearer ${await token()}` });
  const label = {
    "connect-json": "Connect JSON",
    "connect-binary": "Connect binary",
    "grpc-web": "gRPC-Web",
  }[kind];
  return {
    name: `${label}${gzip ? " gzip" : ""}`,
    status: async () => client.getTemplateStatus({ classId: stored }, { headers: await headers() }),
    enroll: async (image, classId) =>
      client.enroll({ classId, images: [{ image }] }, { headers: await headers() }),
    close() {},
  };
}

function rest(gzip: boolean): Variant {
  const call = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = {
      authorization: `Bearer ${await token()}`,
      "accept-encoding": gzip ? "gzip" : "identity",
    };
    let payload: string | Buffer | undefined;
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
      if (gzip) {
        payload = gzipSync(payload);
        headers["content-encoding"] = "gzip";
      }
    }
    const res = await fetch(server.baseUrl + path, {
      method,
      headers,
      ...(payload ? { body: payload } : {}),
    });
    if (res.status !== 200) throw new Error(`REST ${path} answered ${res.status}`);
    return res.arrayBuffer();
  };
  return {
    name: `REST${gzip ? " gzip" : ""}`,
    status: () => call("GET", `/api/face/v1/template/status/${stored}`),
    enroll: (image, classId) =>
      call("POST", `/api/face/v1/enroll/${classId}`, [{ image: image.toString("base64") }]),
    close() {},
  };
}

const variants: Variant[] = [false, true].flatMap((gzip) => [
  grpcJs(gzip),
  connect("connect-json", gzip),
  connect("connect-binary", gzip),
  connect("grpc-web", gzip),
  rest(gzip),
]);

interface Sample {
  p50: number;
  p99: number;
  statusPerSecond: number;
  enrollPerSecond: number;
}
const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
let nextClass = 1000n;

async function latencies(task: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < latencyCalls; i++) {
    const t = performance.now();
    await task();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: median(times), p99: times[Math.floor(times.length * 0.99)] as number };
}

for (const v of variants) {
  // Warm-up of every path: connections, JIT, the store's statement cache.
  await throughput(100, inFlight, () => v.status());
  await v.enroll(photos[1] as Buffer, nextClass++);
}
for (let round = 0; round < rounds; round++) {
  for (const v of variants) {
    const { p50, p99 } = await latencies(() => v.status());
    const statusPerSecond = await throughput(statusCalls, inFlight, () => v.status());
    const enrollPerSecond = await throughput(enrollImages, 4, (i) =>
      v.enroll(photos[i % photos.length] as Buffer, nextClass++),
    );
    samples.get(v.name)?.push({ p50, p99, statusPerSecond, enrollPerSecond });
  }
}

const med = (name: string, key: keyof Sample) =>
  median((samples.get(name) ?? []).map((s) => s[key]));
const base = variants[0]?.name as string;
console.log(
  `Transport cost, ${rounds} interleaved rounds (medians); GetTemplateStatus: ${latencyCalls} sequential calls for latency, ${statusCalls} at ${inFlight} in flight for calls/s; Enroll: ${enrollImages} 1-image calls (640x480) at 4 in flight; ratios to ${base}`,
);
console.log(
  "| protocol | status p50 ms | status p99 ms | status calls/s | ratio | enroll images/s | ratio |",
);
console.log("|---|---|---|---|---|---|---|");
for (const v of variants) {
  const cps = med(v.name, "statusPerSecond");
  const eps = med(v.name, "enrollPerSecond");
  console.log(
    `| ${v.name} | ${med(v.name, "p50").toFixed(2)} | ${med(v.name, "p99").toFixed(2)} | ${cps.toFixed(0)} | ${(cps / med(base, "statusPerSecond")).toFixed(2)} | ${eps.toFixed(1)} | ${(eps / med(base, "enrollPerSecond")).toFixed(2)} |`,
  );
}
reportSummary(
  "transport",
  variants.slice(1).map((v) => ({
    what: `${v.name} / ${base}: GetTemplateStatus calls/s; 1-image Enroll images/s`,
    result: `${(med(v.name, "statusPerSecond") / med(base, "statusPerSecond")).toFixed(2)}; ${(med(v.name, "enrollPerSecond") / med(base, "enrollPerSecond")).toFixed(2)}`,
  })),
);
for (const v of variants) v.close();
await server.close();
