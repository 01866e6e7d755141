/**
 * The bad-input matrix: malformed, oversized, hostile and merely wrong requests over REST, the
 * Connect protocol and raw gRPC frames. Every one gets a clear answer with the right code, and
 * the server still answers /readyz after each; nothing stored is lost.
 */
import { type ClientHttp2Session, connect as http2Connect } from "node:http2";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FaceTemplateStatusRequestSchema,
  SetTemplateTagsRequestSchema,
} from "../../gen/bioid/services/v1/face_recognition_pb.js";
import { photo } from "../support/photos.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const maxRequestBytes = 256 * 1024;
let server: TestServer;
let token: string;
let session: ClientHttp2Session;
let pngBomb: Buffer;

beforeAll(async () => {
  server = await startTestServer({ config: { limits: { maxRequestBytes } } });
  token = await server.token(server.clients.alice);
  session = http2Connect(server.baseUrl);
  session.on("error", () => undefined);
  // A real PNG whose header claims 100,000 x 100,000 pixels (10 gigapixels).
  const small = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#888" } })
    .png()
    .toBuffer();
  pngBomb = Buffer.from(small);
  pngBomb.writeUInt32BE(100_000, 16);
  pngBomb.writeUInt32BE(100_000, 20);
  // A stored template that must survive everything below.
  const res = await rest("POST", "/api/face/v1/enroll/1", [
    { image: b64(photo("people/person-01/01.jpg")) },
  ]);
  expect(res.status).toBe(200);
});
afterAll(async () => {
  session?.close();
  await server?.close();
});

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

interface Answer {
  /** HTTP status (gRPC: the :status of the response). */
  status: number;
  /** gRPC code: numeric for REST, the error code string for Connect, grpc-status for gRPC. */
  code?: number | string;
  message: string;
  body?: unknown;
}

async function rest(
  method: string,
  path: string,
  body?: unknown,
  options: { raw?: string | Buffer; headers?: Record<string, string>; auth?: string | null } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...options.headers,
  };
  if (options.auth !== null) headers.authorization = options.auth ?? `Bearer ${token}`;
  const payload = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const res = await fetch(server.baseUrl + path, {
    method,
    headers,
    ...(payload === undefined ? {} : { body: payload }),
  });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as { code?: number; message?: string }) : {};
  return {
    status: res.status,
    ...(json.code === undefined ? {} : { code: json.code }),
    message: json.message ?? "",
    body: json,
  };
}

async function connect(
  method: string,
  body: string | Buffer,
  type = "application/json",
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${server.baseUrl}/bioid.services.v1.FaceRecognition/${method}`, {
    method: "POST",
    headers: {
      "content-type": type,
      "connect-protocol-version": "1",
      authorization: `Bearer ${token}`,
      ...headers,
    },
    body,
  });
  const text = await res.text();
  let json: { code?: string; message?: string } = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return {
    status: res.status,
    ...(json.code === undefined ? {} : { code: json.code }),
    message: json.message ?? "",
  };
}

/** One gRPC call with hand-made frames over HTTP/2. */
function grpc(
  path: string,
  frames: Buffer,
  headers: Record<string, string> = {},
  options: { reset?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve) => {
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${token}`,
      ...headers,
    });
    let status = 0;
    let code: string | undefined;
    let message = "";
    const take = (h: Record<string, unknown>) => {
      if (h["grpc-status"] !== undefined) code = String(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
    };
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      take(h);
    });
    stream.on("trailers", take);
    stream.on("error", () => undefined);
    stream.on("close", () =>
      resolve({ status, ...(code === undefined ? {} : { code: Number(code) }), message }),
    );
    stream.resume();
    if (options.reset) {
      stream.write(frames);
      stream.close(8);
    } else stream.end(frames);
  });
}

/** A gRPC length-prefixed message. */
function frame(bytes: Uint8Array, compressed = false, declared = bytes.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(declared, 1);
  return Buffer.concat([head, bytes]);
}

const status = (classId: bigint) =>
  toBinary(FaceTemplateStatusRequestSchema, create(FaceTemplateStatusRequestSchema, { classId }));
const tagsMessage = (tags: string[]) =>
  toBinary(
    SetTemplateTagsRequestSchema,
    create(SetTemplateTagsRequestSchema, { classId: 1n, tags }),
  );
const statusPath = "/bioid.services.v1.FaceRecognition/GetTemplateStatus";
const tagsPath = "/bioid.services.v1.FaceRecognition/SetTemplateTags";

interface Case {
  name: string;
  send: () => Promise<Answer>;
  status: number;
  code?: number | string;
  message?: RegExp;
}

const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
const enrollPath = "/api/face/v1/enroll/2";

const cases: Case[] = [
  // REST bodies
  {
    name: "REST malformed JSON",
    send: () => rest("POST", enrollPath, undefined, { raw: "[{" }),
    status: 400,
    code: 3,
    message: /^body: is not valid JSON/,
  },
  {
    name: "REST empty body",
    send: () => rest("POST", enrollPath, undefined, { raw: "" }),
    status: 400,
    code: 3,
    message: /^body: is empty/,
  },
  {
    name: "REST object where the image list goes",
    send: () => rest("POST", enrollPath, {}),
    status: 400,
    code: 3,
    message: /^images: expected Array/,
  },
  {
    name: "REST number as an image",
    send: () => rest("POST", enrollPath, [1]),
    status: 400,
    code: 3,
    message: /^images\[0\]/,
  },
  {
    name: "REST image field not a string",
    send: () => rest("POST", enrollPath, [{ image: 5 }]),
    status: 400,
    code: 3,
    message: /^images\[0\]\.image: expected/,
  },
  {
    name: "REST invalid base64",
    send: () => rest("POST", enrollPath, [{ image: "%%%" }]),
    status: 400,
    code: 3,
    message: /^images\[0\]\.image: is not valid base64/,
  },
  {
    name: "REST data URL not base64",
    send: () => rest("POST", enrollPath, [{ image: "data:image/png,abc" }]),
    status: 400,
    code: 3,
    message: /must be base64-encoded/,
  },
  {
    name: "REST unknown field",
    send: () => rest("POST", enrollPath, [{ img: "" }]),
    status: 400,
    code: 3,
    message: /^images\[0\]\.img: unknown field of ImageData/,
  },
  {
    name: "REST tags not a list",
    send: () => rest("POST", enrollPath, [{ image: "", tags: "x" }]),
    status: 400,
    code: 3,
    message: /^images\[0\]\.tags: expected Array/,
  },
  {
    name: "REST 100,000 levels of nesting",
    send: () => rest("POST", enrollPath, undefined, { raw: deep(100_000) }),
    status: 400,
    code: 3,
    message: /nested deeper than the limit of 32/,
  },
  {
    name: "REST 33 levels of nesting",
    send: () => rest("POST", enrollPath, undefined, { raw: deep(33) }),
    status: 400,
    code: 3,
    message: /nested deeper/,
  },
  {
    name: "REST integer beyond 2^53",
    send: () =>
      rest("PUT", "/api/face/v1/template/1/tags", undefined, { raw: "[9007199254740993]" }),
    status: 400,
    code: 3,
    message: /^tags\[0\]: number is beyond 2\^53/,
  },
  {
    name: "REST class id not a number",
    send: () => rest("GET", "/api/face/v1/template/status/abc"),
    status: 400,
    code: 3,
    message: /^classId:/,
  },
  {
    name: "REST class id negative",
    send: () => rest("GET", "/api/face/v1/template/status/-3"),
    status: 400,
    code: 3,
    message: /classId must be a positive/,
  },
  {
    name: "REST class id zero",
    send: () => rest("GET", "/api/face/v1/template/status/0"),
    status: 400,
    code: 3,
  },
  {
    name: "REST class id beyond int64",
    send: () => rest("GET", "/api/face/v1/template/status/9223372036854775808"),
    status: 400,
    code: 3,
  },
  {
    name: "REST topMatches not a boolean",
    send: () => rest("POST", "/api/face/v1/search", { images: [], topMatches: "yes" }),
    status: 400,
    code: 3,
    message: /^topMatches: expected boolean/,
  },
  {
    name: "REST search without images",
    send: () => rest("POST", "/api/face/v1/search", { images: [] }),
    status: 400,
    code: 3,
    message: /images: at least one image/,
  },
  {
    name: "REST search with 33 images",
    send: () =>
      rest("POST", "/api/face/v1/search", {
        images: Array.from({ length: 33 }, () => ({ image: "" })),
      }),
    status: 400,
    code: 3,
    message: /33 images sent; at most 32/,
  },
  {
    name: "REST 65 tags",
    send: () =>
      rest(
        "PUT",
        "/api/face/v1/template/1/tags",
        Array.from({ length: 65 }, (_, i) => `t${i}`),
      ),
    status: 400,
    code: 3,
    message: /at most 64/,
  },
  {
    name: "REST tag too long",
    send: () => rest("PUT", "/api/face/v1/template/1/tags", ["x".repeat(129)]),
    status: 400,
    code: 3,
    message: /^tags\[0\] is longer than 128/,
  },
  {
    name: "REST tag with a control character",
    send: () => rest("PUT", "/api/face/v1/template/1/tags", ["a\u0007b"]),
    status: 400,
    code: 3,
    message: /control characters/,
  },
  {
    name: "REST tag with a lone surrogate",
    send: () => rest("PUT", "/api/face/v1/template/1/tags", undefined, { raw: '["a\\ud800b"]' }),
    status: 400,
    code: 3,
    message: /^tags\[0\]: .*invalid UTF8/,
  },
  {
    name: "REST empty tag",
    send: () => rest("PUT", "/api/face/v1/template/1/tags", [""]),
    status: 400,
    code: 3,
    message: /must not be empty/,
  },
  {
    name: "REST body over the size limit",
    send: () => rest("POST", enrollPath, [{ image: "A".repeat(maxRequestBytes) }]),
    status: 413,
    code: 8,
    message: /larger than the limit of 262144 bytes/,
  },
  {
    name: "REST gzip body that is not gzip",
    send: () =>
      rest("POST", enrollPath, undefined, { raw: "[]", headers: { "content-encoding": "gzip" } }),
    status: 400,
    code: 3,
    message: /not valid gzip/,
  },
  {
    name: "REST gzip bomb beyond the size limit",
    send: () =>
      rest("POST", enrollPath, undefined, {
        raw: gzipSync(`[{"image":"${"A".repeat(4 * maxRequestBytes)}"}]`),
        headers: { "content-encoding": "gzip" },
      }),
    status: 413,
    code: 8,
    message: /after decompression/,
  },
  {
    name: "REST unsupported content coding",
    send: () =>
      rest("POST", enrollPath, undefined, {
        raw: "[]",
        headers: { "content-encoding": "compress" },
      }),
    status: 400,
    code: 3,
    message: /content-encoding 'compress' is not supported/,
  },
  {
    name: "REST malformed grpc-timeout",
    send: () =>
      rest("GET", "/api/face/v1/template/status/1", undefined, {
        headers: { "grpc-timeout": "soon" },
      }),
    status: 400,
    code: 3,
    message: /grpc-timeout/,
  },
  {
    name: "REST without a token",
    send: () => rest("GET", "/api/face/v1/template/status/1", undefined, { auth: null }),
    status: 401,
    code: 16,
  },
  {
    name: "REST garbage token",
    send: () => rest("GET", "/api/face/v1/template/status/1", undefined, { auth: "Bearer x.y.z" }),
    status: 401,
    code: 16,
  },
  {
    name: "REST basic auth",
    send: () => rest("GET", "/api/face/v1/template/status/1", undefined, { auth: "Basic YTpi" }),
    status: 401,
    code: 16,
  },
  {
    name: "REST wrong method",
    send: () => rest("DELETE", "/api/face/v1/search"),
    status: 405,
    code: 12,
  },
  {
    name: "REST unknown path",
    send: () => rest("GET", "/api/face/v2/nothing"),
    status: 404,
    code: 5,
  },
  {
    name: "REST path traversal",
    send: () => rest("GET", "/api/face/v1/template/status/..%2F..%2Fetc%2Fpasswd"),
    status: 400,
    code: 3,
  },
  // Images: answered per image, the call succeeds with the reason
  {
    name: "REST random bytes as an image",
    send: () => rest("POST", enrollPath, [{ image: b64(Buffer.from("not an image at all")) }]),
    status: 200,
    message: /InvalidImage|not an image/,
  },
  {
    name: "REST truncated JPEG",
    send: () =>
      rest("POST", enrollPath, [
        { image: b64(photo("people/person-01/01.jpg").subarray(0, 2000)) },
      ]),
    status: 200,
    message: /InvalidImage/,
  },
  {
    name: "REST 10-gigapixel PNG header",
    send: () => rest("POST", enrollPath, [{ image: b64(pngBomb) }]),
    status: 200,
    message: /ImageTooLarge/,
  },
  // The Connect protocol
  {
    name: "Connect malformed JSON",
    send: () => connect("GetTemplateStatus", "{"),
    status: 400,
    code: "invalid_argument",
  },
  {
    name: "Connect class id not a number",
    send: () => connect("GetTemplateStatus", '{"classId":"abc"}'),
    status: 400,
    code: "invalid_argument",
  },
  {
    name: "Connect 100,000 levels of nesting",
    send: () => connect("GetTemplateStatus", `{"classId":${deep(100_000)}}`),
    status: 400,
    code: "invalid_argument",
  },
  {
    name: "Connect deep unknown field",
    send: () => connect("GetTemplateStatus", `{"x":${deep(100_000)},"classId":"1"}`),
    status: 200, // Connect JSON ignores unknown fields, as its protocol does; nothing walks them
  },
  {
    name: "Connect tags not a list",
    send: () => connect("SetTemplateTags", '{"classId":"1","tags":5}'),
    status: 400,
    code: "invalid_argument",
  },
  {
    name: "Connect tag with a lone surrogate",
    send: () => connect("SetTemplateTags", '{"classId":"1","tags":["\\ud800"]}'),
    status: 400,
    code: "invalid_argument",
    message: /invalid UTF8/,
  },
  {
    name: "Connect unsupported content type",
    send: () => connect("GetTemplateStatus", "<x/>", "text/xml"),
    status: 415,
  },
  {
    name: "Connect body over the size limit",
    send: () =>
      connect(
        "SetTemplateTags",
        JSON.stringify({ classId: "1", tags: ["x".repeat(maxRequestBytes)] }),
      ),
    status: 429,
    code: "resource_exhausted",
  },
  {
    name: "Connect unsupported content encoding",
    send: () =>
      connect("GetTemplateStatus", '{"classId":"1"}', "application/json", {
        "content-encoding": "snappy",
      }),
    status: 501,
    code: "unimplemented",
  },
  {
    name: "Connect malformed timeout",
    send: () =>
      connect("GetTemplateStatus", '{"classId":"1"}', "application/json", {
        "connect-timeout-ms": "soon",
      }),
    status: 400,
    code: "invalid_argument",
  },
  {
    name: "Connect binary garbage",
    send: () =>
      connect(
        "GetTemplateStatus",
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
        "application/proto",
      ),
    status: 500,
    code: "internal",
    message: /parse binary/,
  },
  {
    name: "Connect garbage token",
    send: () =>
      connect("GetTemplateStatus", '{"classId":"1"}', "application/json", {
        authorization: "Bearer nope",
      }),
    status: 401,
    code: "unauthenticated",
  },
  // Raw gRPC frames
  {
    name: "gRPC garbage protobuf",
    send: () => grpc(statusPath, frame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]))),
    status: 200,
    code: 3,
    message: /^parse binary/,
  },
  {
    name: "gRPC frame shorter than declared",
    send: () => grpc(statusPath, frame(status(1n), false, 50)),
    status: 200,
    code: 3,
  },
  {
    name: "gRPC compressed flag without an encoding",
    send: () => grpc(statusPath, frame(status(1n), true)),
    status: 200,
    code: 13, // INTERNAL, as the gRPC protocol has it for a flag the headers contradict
    message: /compressed envelope/,
  },
  {
    name: "gRPC gzip flag on bytes that are not gzip",
    send: () => grpc(statusPath, frame(status(1n), true), { "grpc-encoding": "gzip" }),
    status: 200,
    code: 3,
  },
  {
    name: "gRPC unsupported encoding",
    send: () => grpc(statusPath, frame(status(1n)), { "grpc-encoding": "snappy" }),
    status: 200,
    code: 12,
  },
  {
    name: "gRPC message declared beyond the size limit",
    send: () => grpc(statusPath, frame(Buffer.alloc(16), false, 100 * 1024 * 1024)),
    status: 200,
    code: 8,
  },
  {
    name: "gRPC two messages for a unary call",
    send: () => grpc(statusPath, Buffer.concat([frame(status(1n)), frame(status(2n))])),
    status: 200,
    code: 12,
  },
  {
    name: "gRPC no message at all",
    send: () => grpc(statusPath, Buffer.alloc(0)),
    status: 200,
    code: 12,
  },
  {
    name: "gRPC unknown method",
    send: () => grpc("/bioid.services.v1.FaceRecognition/Nope", frame(status(1n))),
    status: 200,
    code: 12,
  },
  {
    name: "gRPC unknown service",
    send: () => grpc("/no.such.Service/Call", frame(status(1n))),
    status: 200,
    code: 12,
  },
  {
    name: "gRPC malformed timeout",
    send: () => grpc(statusPath, frame(status(1n)), { "grpc-timeout": "soon" }),
    status: 200,
    code: 3,
  },
  {
    name: "gRPC garbage token",
    send: () => grpc(statusPath, frame(status(1n)), { authorization: "Bearer nope" }),
    status: 200,
    code: 16,
  },
  {
    name: "gRPC invalid UTF-8 in a tag",
    send: () => grpc(tagsPath, frame(Buffer.from([0x08, 0x01, 0x12, 0x02, 0xc3, 0x28]))),
    status: 200,
    code: 3,
    message: /^parse binary: .*utf-8/i,
  },
  {
    name: "gRPC 65 tags",
    send: () => grpc(tagsPath, frame(tagsMessage(Array.from({ length: 65 }, (_, i) => `t${i}`)))),
    status: 200,
    code: 3,
    message: /at most 64/,
  },
  {
    name: "gRPC class id zero",
    send: () => grpc(statusPath, frame(status(0n))),
    status: 200,
    code: 3,
    message: /^classId must be a positive 64-bit number, got 0$/,
  },
  {
    name: "gRPC stream reset by the client mid-call",
    send: () => grpc(statusPath, frame(status(1n), false, 100), {}, { reset: true }),
    status: 0,
  },
];

describe("bad input", () => {
  it(`has at least 60 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const answer = await c.send();
      expect(answer.status, JSON.stringify(answer)).toBe(c.status);
      if (c.code !== undefined) expect(answer.code, answer.message).toBe(c.code);
      if (c.message) expect(answer.message || JSON.stringify(answer.body)).toMatch(c.message);
      const ready = await fetch(`${server.baseUrl}/readyz`);
      expect(ready.status).toBe(200);
    });
  }

  it("lost nothing that was stored", async () => {
    const res = await rest("GET", "/api/face/v1/template/status/1");
    expect(res.body).toMatchObject({ classId: 1, available: true, featureVectors: 1 });
  });
});
