/**
 * The JSON Web API's own edges: path parameters, bodies, JSON numbers, size limits, unknown
 * routes and health. Shared behaviour across protocols lives in protocol-matrix.test.ts.
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectClient, createGrpcJsClient } from "@facevault/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaceRecognition } from "../gen/bioid/services/v1/face_recognition_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let server: TestServer;
let token: string;

beforeAll(async () => {
  // A small body limit so that the size tests need no 50 MB uploads.
  server = await startTestServer({ config: { limits: { maxRequestBytes: 64 * 1024 } } });
  token = await server.token(server.clients.alice);
});
afterAll(async () => server?.close());

async function rest(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
) {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: text ? JSON.parse(text) : undefined,
  };
}

describe("routes", () => {
  it("answers an unknown route with 404, a JSON error and the job headers", async () => {
    const res = await rest("GET", "/api/face/v1/nothing-here", undefined, {
      "reference-number": "r-1",
    });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({
      code: 5,
      message: "no route for GET /api/face/v1/nothing-here",
      details: [],
    });
    expect(res.headers.get("jobid")).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get("bws-version")).toBe("3.0.0-test");
    expect(res.headers.get("date")).toBeTruthy();
    expect(res.headers.get("reference-number")).toBe("r-1");
  });

  it("answers a known path with another method 405 and Allow", async () => {
    const res = await rest("GET", "/api/face/v1/template/7");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("DELETE");
    expect(res.json).toMatchObject({
      code: 12,
      message: "GET is not allowed on /api/face/v1/template/7; use DELETE",
    });
    expect(res.headers.get("jobid")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("ignores unknown query parameters, as BWS's transcoding does", async () => {
    const res = await rest("GET", "/api/face/v1/template/status/7?foo=1&downloadThumbnails=true");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ classId: 7, available: false });
  });

  it("serves livez, readyz and the gRPC health check", async () => {
    expect((await rest("GET", "/livez")).status).toBe(200);
    expect((await rest("GET", "/readyz")).json).toEqual({ status: "ready", reasons: [] });
    expect((await rest("HEAD", "/readyz")).status).toBe(200);
    const health = createConnectClient({
      baseUrl: server.baseUrl,
      protocol: "grpc",
      service: Health,
    });
    expect((await health.check({ service: "" })).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
    expect((await health.check({ service: FaceRecognition.typeName })).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
    await expect(health.check({ service: "no.Such" })).rejects.toMatchObject({
      code: Code.NotFound,
    });
  });
});

describe("class id in the path", () => {
  const cases: [string, RegExp][] = [
    ["abc", /^classId: expected bigint \(int64\): abc out of range$/],
    ["-5", /classId must be a positive 64-bit number, got -5/],
    ["0", /classId must be a positive 64-bit number, got 0/],
    ["1.5", /^classId: expected bigint \(int64\): 1.5 out of range/],
    [
      "9223372036854775808",
      /^classId: expected bigint \(int64\): 9223372036854775808 out of range/,
    ],
    ["99999999999999999999999", /^classId: expected bigint/],
  ];
  for (const [id, message] of cases) {
    it(`refuses '${id}' with 400 naming classId`, async () => {
      const res = await rest("GET", `/api/face/v1/template/status/${id}`);
      expect(res.status).toBe(400);
      expect(res.json.code).toBe(3);
      expect(res.json.message).toMatch(message);
    });
  }

  it("accepts the largest int64 and answers it as a JSON number with its exact digits", async () => {
    const res = await rest("GET", "/api/face/v1/template/status/9223372036854775807");
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^\{"classId":9223372036854775807,"available":false,/);
    const above53 = await rest("GET", "/api/face/v1/template/status/9007199254740993");
    expect(above53.text).toMatch(/^\{"classId":9007199254740993,/);
  });
});

describe("JSON bodies", () => {
  it("refuses malformed JSON", async () => {
    const res = await rest("PUT", "/api/face/v1/template/1/tags", '["a",');
    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(/^body: is not valid JSON/);
  });

  it("names the field of a wrong type", async () => {
    let res = await rest("PUT", "/api/face/v1/template/1/tags", '["a", 7]');
    expect(res.status).toBe(400);
    expect(res.json.message).toBe("tags[1]: expected string, got 7");
    res = await rest("PUT", "/api/face/v1/template/1/tags", '{"tags": ["a"]}');
    expect(res.json.message).toBe("tags: expected Array, got object");
    res = await rest("POST", "/api/face/v1/search", '{"images": [], "topMatches": "yes"}');
    expect(res.json.message).toBe('topMatches: expected boolean, got "yes"');
    res = await rest("POST", "/api/face/v1/search", '{"imagez": []}');
    expect(res.json.message).toBe("imagez: unknown field of FaceSearchRequest");
    res = await rest("POST", "/api/face/v1/search", '{"images": [{"image": ""}, {"tags": [1]}]}');
    expect(res.json.message).toBe("images[1].tags[0]: expected string, got 1");
  });

  it("names the image whose base64 is invalid", async () => {
    const good = Buffer.from("not really an image").toString("base64");
    const body = JSON.stringify([{ image: good }, { image: "%%%not base64%%%" }]);
    const res = await rest("POST", "/api/face/v1/enroll/1", body);
    expect(res.status).toBe(400);
    expect(res.json.message).toBe("images[1].image: is not valid base64");
  });

  it("refuses an empty body where one is required", async () => {
    const res = await rest("PUT", "/api/face/v1/template/1/tags", "");
    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(/^body: is empty/);
  });

  it("refuses a REST integer beyond 2^53 in a body instead of rounding it", async () => {
    const res = await rest("PUT", "/api/face/v1/template/1/tags", '["a", 9007199254740993]');
    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(/^tags\[1\]: number is beyond 2\^53/);
  });

  it("refuses JSON nested beyond the depth limit before walking it", async () => {
    const deep = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    const res = await rest("PUT", "/api/face/v1/template/1/tags", deep);
    expect(res.status).toBe(400);
    expect(res.json.message).toBe("body: JSON is nested deeper than the limit of 32 levels");
    expect((await rest("GET", "/readyz")).status).toBe(200);
  });

  it("keeps Connect JSON canonical: int64 as strings, exact", async () => {
    const exact = await rest(
      "POST",
      "/bioid.services.v1.FaceRecognition/GetTemplateStatus",
      '{"classId": "9007199254740993"}',
    );
    expect(exact.status).toBe(200);
    expect(exact.json.classId).toBe("9007199254740993");
  });
});

describe("request size limit", () => {
  const tags = Array.from({ length: 9000 }, (_, i) => `tag-${i}`); // ~100 KB, over the 64 KB limit

  it("refuses an oversized REST body with 413", async () => {
    const res = await rest("PUT", "/api/face/v1/template/1/tags", JSON.stringify(tags));
    expect(res.status).toBe(413);
    expect(res.json).toEqual({
      code: 8,
      message: "request body is larger than the limit of 65536 bytes",
      details: [],
    });
    expect(res.headers.get("jobid")).toBeTruthy();
  });

  it("refuses an oversized message over gRPC and Connect with RESOURCE_EXHAUSTED", async () => {
    const grpc = createGrpcJsClient({ address: server.address, token });
    await expect(grpc.setTemplateTags({ classId: 1n, tags })).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
    grpc.close();
    // The refused stream is released, not left open until the client goes away.
    await expect.poll(() => server.app.server.inFlight(), { timeout: 5000 }).toBe(0);
    for (const useBinaryFormat of [true, false]) {
      const connect = createConnectClient({ baseUrl: server.baseUrl, token, useBinaryFormat });
      const err = await connect.setTemplateTags({ classId: 1n, tags }).catch((e: unknown) => e);
      expect(ConnectError.from(err).code).toBe(Code.ResourceExhausted);
    }
  });

  it("keeps serving after refusing big bodies", async () => {
    const res = await rest("GET", "/api/face/v1/template/status/3");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ classId: 3, available: false });
  });
});

describe("reference numbers", () => {
  it("bounds their length and strips control characters", async () => {
    const long = "x".repeat(500);
    let res = await rest("GET", "/api/face/v1/template/status/1", undefined, {
      "reference-number": long,
    });
    expect(res.headers.get("reference-number")).toBe("x".repeat(128));
    res = await rest("GET", "/api/face/v1/template/status/1", undefined, {
      "reference-number": "a\tb c",
    });
    expect(res.headers.get("reference-number")).toBe("ab c");
  });
});

it("builds request messages the same way for every field (sanity of the test helper)", () => {
  expect(create(FaceRecognition.method.getTemplateStatus.input, { classId: 1n }).classId).toBe(1n);
});
