/**
 * The same table of cases over grpc-js, Connect JSON, Connect binary, gRPC-Web and REST, against
 * one real server on port 0: every protocol must give the same outcome and the same response,
 * carry the job headers, and leave a matching bookkeeping record.
 */
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ENCODER_VERSION } from "../src/face/encoders.js";
import { noFacePhoto, photo } from "./support/photos.js";
import {
  type CallOptions,
  type CallResult,
  type MethodName,
  type ProtocolClient,
  protocolClients,
  type Requests,
} from "./support/protocols.js";
import { samplePng, seedTemplate } from "./support/seed.js";
import { startTestServer, type TestClient, type TestServer } from "./support/test-server.js";

let server: TestServer;
let clients: ProtocolClient[];
let thumbnail: Uint8Array;
let noFace: Uint8Array;

/** Alice's seeded class, a class nobody has, and classes enrolled from photos. */
const seeded = 1001n;
const missing = 4040n;
const fresh = 2001n;
const enrolled = 3001n;

/** Enrolls person-02 into `enrolled` through the service, as a precondition. */
async function enrollPerson02(): Promise<void> {
  const rest = clients.find((c) => c.name === "rest") as ProtocolClient;
  const result = await rest.call(
    "enroll",
    {
      classId: enrolled,
      images: [
        { image: photo("people/person-02/01.jpg") },
        { image: photo("people/person-02/02.jpg") },
      ],
    },
    { token: await server.token(server.clients.alice) },
  );
  expect(result.json?.performedAction).toBe("NEW_TEMPLATE_CREATED");
}

interface Case {
  name: string;
  method: MethodName;
  /** The request, or a function building it once fixtures are ready. */
  request: Requests[MethodName] | (() => Requests[MethodName]);
  /** Runs before the call, for every protocol, after the state is reset. */
  setup?: () => Promise<void>;
  /** Default alice with a valid token. */
  as?: (s: TestServer) => Promise<Partial<CallOptions> & { client?: TestClient }>;
  code: number;
  /** Expected subset of the JSON response (same for every protocol). */
  json?: Record<string, unknown>;
  /** Expected message substring on errors. */
  message?: RegExp;
  /** Checked after the call, once per protocol. */
  after?: () => Promise<void>;
}

const sign = (claims: Record<string, unknown>, key: Uint8Array) =>
  new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(key);
const now = () => Math.floor(Date.now() / 1000);
const aliceKey = () => new Uint8Array(Buffer.from(server.clients.alice.key, "base64"));

const cases: Case[] = [
  {
    name: "status of a class without template",
    method: "getTemplateStatus",
    request: { classId: missing },
    code: 0,
    json: {
      classId: "4040",
      available: false,
      tags: [],
      encoderVersion: 0,
      featureVectors: 0,
      thumbnailsStored: 0,
      thumbnails: [],
    },
  },
  {
    name: "status of a stored template",
    method: "getTemplateStatus",
    request: { classId: seeded },
    code: 0,
    json: {
      classId: "1001",
      available: true,
      enrolled: "2026-01-02T03:04:05.678Z",
      tags: ["blue", "vip"],
      encoderVersion: 2,
      featureVectors: 2,
      thumbnailsStored: 1,
      thumbnails: [],
    },
  },
  {
    name: "status with thumbnails",
    method: "getTemplateStatus",
    request: { classId: seeded, downloadThumbnails: true },
    code: 0,
    json: {
      available: true,
      thumbnails: [{ enrolled: "2026-01-02T03:04:05.678Z", image: "<thumbnail>" }],
    },
  },
  {
    name: "another partition's class is invisible",
    method: "getTemplateStatus",
    request: { classId: seeded },
    as: async (s) => ({ client: s.clients.bob }),
    code: 0,
    json: { classId: "1001", available: false },
  },
  {
    name: "set tags replaces all tags",
    method: "setTemplateTags",
    request: { classId: seeded, tags: ["gold", "gold", "x"] },
    code: 0,
    json: {},
    after: async () => {
      const t = await server.app.store.get(bcid(server.clients.alice, seeded));
      expect(t?.tags).toEqual(["gold", "x"]);
    },
  },
  {
    name: "set tags on a class without template",
    method: "setTemplateTags",
    request: { classId: missing, tags: ["a"] },
    code: 5,
    message: /no template is stored for class 4040/,
  },
  {
    name: "set tags rejects an empty tag, naming it",
    method: "setTemplateTags",
    request: { classId: seeded, tags: ["ok", ""] },
    code: 3,
    message: /tags\[1\] must not be empty/,
  },
  {
    name: "another partition cannot change tags",
    method: "setTemplateTags",
    request: { classId: seeded, tags: ["hacked"] },
    as: async (s) => ({ client: s.clients.bob }),
    code: 5,
    after: async () => {
      const t = await server.app.store.get(bcid(server.clients.alice, seeded));
      expect(t?.tags).toEqual(["blue", "vip"]);
    },
  },
  {
    name: "delete removes the template",
    method: "deleteTemplate",
    request: { classId: seeded },
    code: 0,
    json: {},
    after: async () => {
      expect(await server.app.store.get(bcid(server.clients.alice, seeded))).toBeUndefined();
    },
  },
  {
    name: "delete of a class without template",
    method: "deleteTemplate",
    request: { classId: missing },
    code: 5,
  },
  {
    name: "another partition cannot delete",
    method: "deleteTemplate",
    request: { classId: seeded },
    as: async (s) => ({ client: s.clients.bob }),
    code: 5,
    after: async () => {
      expect(await server.app.store.get(bcid(server.clients.alice, seeded))).toBeDefined();
    },
  },
  {
    name: "class id 0",
    method: "getTemplateStatus",
    request: { classId: 0n },
    code: 3,
    message: /classId must be a positive 64-bit number, got 0/,
  },
  {
    name: "negative class id",
    method: "deleteTemplate",
    request: { classId: -5n },
    code: 3,
    message: /classId must be a positive 64-bit number, got -5/,
  },
  {
    name: "largest class id",
    method: "getTemplateStatus",
    request: { classId: 2n ** 63n - 1n },
    code: 0,
    json: { classId: "9223372036854775807", available: false },
  },
  {
    name: "no Authorization header",
    method: "getTemplateStatus",
    request: { classId: seeded },
    as: async () => ({ token: null }),
    code: 16,
    message: /missing Authorization header/,
  },
  {
    name: "malformed token",
    method: "getTemplateStatus",
    request: { classId: seeded },
    as: async () => ({ token: "abc.def" }),
    code: 16,
    message: /malformed token/,
  },
  {
    name: "alg none",
    method: "getTemplateStatus",
    request: { classId: seeded },
    as: async () => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
      const claims = { iss: "alice", sub: "alice", aud: "BWS", exp: now() + 300 };
      return { token: `${enc({ alg: "none" })}.${enc(claims)}.` };
    },
    code: 16,
    message: /algorithm 'none' is not accepted/,
  },
  {
    name: "token signed with a wrong key",
    method: "getTemplateStatus",
    request: { classId: seeded },
    as: async () => ({
      token: await sign(
        { iss: "alice", sub: "alice", aud: "BWS", exp: now() + 300 },
        new Uint8Array(randomBytes(64)),
      ),
    }),
    code: 16,
    message: /does not match a key of a configured client \(unknown client or wrong key\)/,
  },
  {
    name: "expired token",
    method: "deleteTemplate",
    request: { classId: seeded },
    as: async () => ({
      token: await sign({ iss: "alice", sub: "alice", aud: "BWS", exp: now() - 600 }, aliceKey()),
    }),
    code: 16,
    message: /expired/,
    after: async () => {
      // nothing is read or written without a valid token
      expect(await server.app.store.get(bcid(server.clients.alice, seeded))).toBeDefined();
    },
  },
  {
    name: "token not yet valid",
    method: "getTemplateStatus",
    request: { classId: seeded },
    as: async () => ({
      token: await sign(
        { iss: "alice", sub: "alice", aud: "BWS", nbf: now() + 600, exp: now() + 900 },
        aliceKey(),
      ),
    }),
    code: 16,
    message: /not yet valid/,
  },
  {
    name: "wrong audience",
    method: "getTemplateStatus",
    request: { classId: seeded },
    as: async () => ({
      token: await sign({ iss: "alice", sub: "alice", aud: "XYZ", exp: now() + 300 }, aliceKey()),
    }),
    code: 16,
    message: /audience must be 'BWS'/,
  },
  {
    name: "unknown client",
    method: "getTemplateStatus",
    request: { classId: seeded },
    as: async () => ({
      token: await sign(
        { iss: "mallory", sub: "mallory", aud: "BWS", exp: now() + 300 },
        aliceKey(),
      ),
    }),
    code: 16,
    message: /does not match a key of a configured client \(unknown client or wrong key\)/,
  },
  {
    name: "sub differs from iss",
    method: "getTemplateStatus",
    request: { classId: seeded },
    as: async () => ({
      token: await sign({ iss: "alice", sub: "bob", aud: "BWS", exp: now() + 300 }, aliceKey()),
    }),
    code: 16,
    message: /'sub' must equal 'iss'/,
  },
  {
    name: "enroll two photos creates a template",
    method: "enroll",
    request: () => ({
      classId: fresh,
      images: [
        { image: photo("people/person-01/01.jpg") },
        { image: photo("people/person-01/02.jpg") },
      ],
    }),
    code: 0,
    json: {
      status: "SUCCEEDED",
      errors: [],
      performedAction: "NEW_TEMPLATE_CREATED",
      enrolledImages: 2,
      templateStatus: {
        classId: "2001",
        available: true,
        encoderVersion: DEFAULT_ENCODER_VERSION,
        featureVectors: 2,
        thumbnailsStored: 2,
        thumbnails: [],
      },
    },
    after: async () => {
      const t = await server.app.store.get(bcid(server.clients.alice, fresh));
      expect(t?.featureCount).toBe(2);
    },
  },
  {
    name: "enroll into an existing template updates it",
    method: "enroll",
    setup: enrollPerson02,
    request: () => ({ classId: enrolled, images: [{ image: photo("people/person-02/03.jpg") }] }),
    code: 0,
    json: {
      performedAction: "TEMPLATE_UPDATED",
      enrolledImages: 1,
      templateStatus: { classId: "3001", featureVectors: 3, thumbnailsStored: 3 },
    },
  },
  {
    name: "enroll of a photo without a face fails and writes nothing",
    method: "enroll",
    request: () => ({ classId: fresh, images: [{ image: noFace }] }),
    code: 0,
    json: {
      status: "SUCCEEDED",
      performedAction: "ENROLLMENT_FAILED",
      enrolledImages: 0,
      errors: [{ errorCode: "NoSuitableFaceImage" }],
      templateStatus: { classId: "2001", available: false },
    },
    after: async () => {
      expect(await server.app.store.get(bcid(server.clients.alice, fresh))).toBeUndefined();
    },
  },
  {
    name: "enroll of a group photo and a corrupt file fails, naming the image",
    method: "enroll",
    request: () => ({
      classId: fresh,
      images: [
        { image: photo("multi/two-people.jpg") },
        { image: new TextEncoder().encode("not an image") },
      ],
    }),
    code: 0,
    json: {
      performedAction: "ENROLLMENT_FAILED",
      errors: [{ errorCode: "InvalidImage" }, { errorCode: "NoSuitableFaceImage" }],
    },
    after: async () => {
      expect(await server.app.store.get(bcid(server.clients.alice, fresh))).toBeUndefined();
    },
  },
  {
    name: "enroll with no images and no template does nothing",
    method: "enroll",
    request: { classId: fresh, images: [] },
    code: 0,
    json: {
      performedAction: "NONE",
      enrolledImages: 0,
      imageProperties: [],
      templateStatus: { available: false },
    },
  },
  {
    name: "verify of a genuine photo",
    method: "verify",
    setup: enrollPerson02,
    request: () => ({ classId: enrolled, image: { image: photo("people/person-02/04.jpg") } }),
    code: 0,
    json: { status: "SUCCEEDED", errors: [], verified: true },
  },
  {
    name: "verify of an impostor photo",
    method: "verify",
    setup: enrollPerson02,
    request: () => ({ classId: enrolled, image: { image: photo("people/person-03/01.jpg") } }),
    code: 0,
    json: { verified: false },
  },
  {
    name: "verify of a group photo reports the reason",
    method: "verify",
    setup: enrollPerson02,
    request: () => ({ classId: enrolled, image: { image: photo("multi/couple.jpg") } }),
    code: 0,
    json: { verified: false, score: 0, errors: [{ errorCode: "NoSuitableFaceImage" }] },
  },
  {
    name: "verify against a class without template",
    method: "verify",
    request: () => ({ classId: missing, image: { image: photo("people/person-02/04.jpg") } }),
    code: 5,
    message: /no template is stored for class 4040/,
  },
  {
    name: "search finds the enrolled class",
    method: "search",
    setup: enrollPerson02,
    request: () => ({
      images: [{ image: photo("people/person-02/05.jpg") }],
      tags: [],
      topMatches: false,
    }),
    code: 0,
    json: { status: "SUCCEEDED", result: [{ matches: [{ classId: "3001" }] }] },
  },
  {
    name: "search refuses an image without exactly one face, naming it",
    method: "search",
    request: () => ({
      images: [
        { image: photo("people/person-02/05.jpg") },
        { image: photo("multi/two-people.jpg") },
      ],
      tags: [],
      topMatches: false,
    }),
    code: 3,
    message: /images\[1\] shows 2 faces; exactly one is needed/,
  },
  {
    name: "passive liveness of one live image",
    method: "livenessDetection",
    request: () => ({ liveImages: [{ image: photo("people/person-02/01.jpg") }] }),
    code: 0,
    json: { status: "SUCCEEDED", imageProperties: [{ frameNumber: 0 }] },
  },
  {
    name: "photo verify of the photo's person",
    method: "photoVerify",
    request: () => ({
      photo: photo("people/person-02/01.jpg"),
      liveImages: [{ image: photo("people/person-02/04.jpg") }],
      disableLivenessDetection: true,
    }),
    code: 0,
    json: { status: "SUCCEEDED", errors: [], live: false, livenessScore: 0 },
  },
  {
    name: "video liveness without a video names the field",
    method: "videoLivenessDetection",
    request: { video: new Uint8Array() },
    code: 3,
    message: /video: a video is required/,
  },
];

function bcid(client: TestClient, classId: bigint) {
  return { storage: client.storage, partition: client.partition, classId };
}

/** Puts the world back to the same state before each call, so every protocol sees the same. */
async function resetState(): Promise<void> {
  const { store, vault } = server.app;
  for (const c of [server.clients.alice, server.clients.bob]) {
    for (const classId of [seeded, missing, fresh, enrolled]) await store.delete(bcid(c, classId));
  }
  await seedTemplate({ store, vault }, server.clients.alice, seeded, {
    tags: ["blue", "vip"],
    vectors: 2,
    thumbnail,
  });
}

function withoutEnrollmentTime(json: Record<string, unknown> | undefined) {
  const copy = structuredClone(json);
  const status = copy?.templateStatus as Record<string, unknown> | undefined;
  if (status) delete status.enrolled;
  return copy;
}

interface Recorded {
  jobId: string;
  method: string;
  clientId: string;
  code: number;
  referenceNumber: string;
}
const recorded: Recorded[] = [];

beforeAll(async () => {
  server = await startTestServer();
  clients = protocolClients(server);
  thumbnail = await samplePng(7);
  noFace = await noFacePhoto();
});

afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await server?.close();
});

describe("protocol matrix", () => {
  for (const testCase of cases) {
    it(testCase.name, async () => {
      const results: Record<string, CallResult> = {};
      for (const client of clients) {
        await resetState();
        await testCase.setup?.();
        const as = (await testCase.as?.(server)) ?? {};
        const caller = as.client ?? server.clients.alice;
        const token = as.token === undefined ? await server.token(caller) : as.token;
        const referenceNumber = `ref-${client.name}-${recorded.length}`;
        const request =
          typeof testCase.request === "function" ? testCase.request() : testCase.request;
        const result = await client.call(testCase.method, request, {
          token,
          referenceNumber,
        });
        results[client.name] = result;

        const where = `${client.name}: ${testCase.name}`;
        expect(result.code, `${where} (${result.message})`).toBe(testCase.code);
        if (testCase.message) expect(result.message, where).toMatch(testCase.message);
        if (client.name === "rest") {
          const status: Record<number, number> = { 0: 200, 3: 400, 5: 404, 12: 501, 16: 401 };
          expect(result.httpStatus, where).toBe(status[testCase.code]);
        }
        // Job headers on every response, errors included.
        expect(result.meta.get("jobid"), where).toMatch(/^[0-9a-f-]{36}$/);
        expect(result.meta.get("bws-version"), where).toBe("3.0.0-test");
        expect(Date.parse(result.meta.get("date") ?? ""), where).not.toBeNaN();
        expect(result.meta.get("reference-number"), where).toBe(referenceNumber);
        if (client.name !== "rest") {
          expect(Number(result.meta.get("response-time-ms")), where).toBeGreaterThanOrEqual(0);
        }
        recorded.push({
          jobId: result.meta.get("jobid") ?? "",
          method: testCase.method,
          clientId: testCase.code === 16 ? "" : caller.clientId,
          code: result.code,
          referenceNumber,
        });
        await testCase.after?.();
      }

      // All protocols agree on the outcome and on the response (but the enrollment time).
      const reference = results.rest as CallResult;
      for (const [name, result] of Object.entries(results)) {
        expect(result.code, name).toBe(reference.code);
        expect(withoutEnrollmentTime(result.json), name).toEqual(
          withoutEnrollmentTime(reference.json),
        );
      }
      if (testCase.json) {
        const expected = structuredClone(testCase.json);
        const thumbs = expected.thumbnails as { image: string }[] | undefined;
        for (const t of thumbs ?? []) t.image = Buffer.from(thumbnail).toString("base64");
        expect(reference.json).toMatchObject(expected);
      }
    });
  }

  it("writes a bookkeeping record for every call, matching it", async () => {
    await server.app.server.drainBookkeeping();
    const jobs = await server.app.jobLog.listJobs({ limit: 10_000 });
    const byId = new Map(jobs.map((j) => [j.jobId, j]));
    expect(recorded.length).toBe(cases.length * clients.length);
    const missingJobs = recorded
      .filter((r) => !byId.has(r.jobId))
      .map((r) => `${r.method} ${r.referenceNumber}`);
    expect(missingJobs).toEqual([]);
    for (const r of recorded) {
      const job = byId.get(r.jobId);
      expect(job, `job ${r.jobId} (${r.method} ${r.referenceNumber})`).toBeDefined();
      expect(job?.method.toLowerCase()).toBe(r.method.toLowerCase());
      expect(job?.clientId).toBe(r.clientId);
      expect(job?.outcome).toBe(r.code);
      expect(job?.referenceNumber).toBe(r.referenceNumber);
      expect(job?.durationMs).toBeGreaterThanOrEqual(0);
    }
  });
});
