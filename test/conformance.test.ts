/**
 * The conformance matrix: every RPC, success and error, over every client a BWS user may have
 * (grpc-js, Python's C-core gRPC, Connect JSON, Connect binary, gRPC-Web, REST) x {identity,
 * gzip} x {no deadline, a 5-minute deadline}, with clients compiled only from the vendor-layout
 * schema in test/fixtures/contract. Each cell checks the answers, the job headers on every
 * response, the error mapping (gRPC code, and HTTP status for REST) and compression; at the end
 * every client must have received the same answers and every call must have its bookkeeping.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { photo } from "./support/photos.js";
import { startTestServer, type TestServer } from "./support/test-server.js";
import {
  createVendorClients,
  loadVendorSchema,
  type VendorCall,
  type VendorClient,
  type VendorResult,
  vendorClientNames,
} from "./support/vendor-clients.js";

let server: TestServer;
let clients: VendorClient[];
let token: string;

const seeded = "4242";
const b64 = (path: string) => Buffer.from(photo(path)).toString("base64");

beforeAll(async () => {
  // Every answer compressed when the client accepts it, so each gzip cell checks it.
  server = await startTestServer({ config: { http: { compressMinBytes: 0 } } });
  token = await server.token(server.clients.alice);
  const seed = await fetch(`${server.baseUrl}/api/face/v1/enroll/${seeded}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify([{ image: b64("people/person-01/01.jpg") }]),
  });
  expect(((await seed.json()) as { performedAction: string }).performedAction).toBe(
    "NEW_TEMPLATE_CREATED",
  );
  clients = createVendorClients(server.address, loadVendorSchema());
});

afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await server?.close();
});

interface Step {
  name: string;
  call: Pick<VendorCall, "method" | "request"> & { anonymous?: boolean };
  code: number;
  /** The HTTP status a REST caller gets (the one table of the wire contract). */
  httpStatus: number;
  check?: (json: JsonObject) => void;
  message?: RegExp;
}

/** One cell's calls: each RPC once succeeding, once failing; `own` is the cell's class. */
function steps(own: string): Step[] {
  return [
    {
      name: "Enroll",
      call: {
        method: "Enroll",
        request: { classId: own, images: [{ image: b64("people/person-02/01.jpg") }] },
      },
      code: 0,
      httpStatus: 200,
      check: (json) => {
        expect(json).toMatchObject({
          status: "SUCCEEDED",
          performedAction: "NEW_TEMPLATE_CREATED",
          enrolledImages: 1,
          templateStatus: { classId: own, available: true, featureVectors: 1 },
        });
        const face = (json.imageProperties as { faces: { leftEye: { x: number } }[] }[])[0]
          ?.faces[0];
        expect(face?.leftEye.x).toBeGreaterThan(0);
      },
    },
    {
      name: "SetTemplateTags",
      call: { method: "SetTemplateTags", request: { classId: own, tags: ["vip", "hall-b"] } },
      code: 0,
      httpStatus: 200,
      check: (json) => expect(json).toEqual({}),
    },
    {
      name: "GetTemplateStatus",
      call: { method: "GetTemplateStatus", request: { classId: own, downloadThumbnails: true } },
      code: 0,
      httpStatus: 200,
      check: (json) => {
        expect(json).toMatchObject({
          classId: own,
          available: true,
          tags: ["vip", "hall-b"],
          thumbnailsStored: 1,
        });
        const thumb = (json.thumbnails as { image: string }[])[0]?.image ?? "";
        expect(Buffer.from(thumb, "base64").subarray(1, 4).toString()).toBe("PNG");
      },
    },
    {
      name: "Verify",
      call: {
        method: "Verify",
        request: { classId: seeded, image: { image: b64("people/person-01/02.jpg") } },
      },
      code: 0,
      httpStatus: 200,
      check: (json) => {
        expect(json).toMatchObject({ status: "SUCCEEDED", verified: true });
        expect(json.score).toBeGreaterThan(0.5);
      },
    },
    {
      name: "Search",
      call: {
        method: "Search",
        request: { images: [{ image: b64("people/person-01/03.jpg") }], topMatches: true },
      },
      code: 0,
      httpStatus: 200,
      check: (json) => {
        const result = json.result as { matches: { classId: string }[] }[];
        expect(result[0]?.matches[0]?.classId).toBe(seeded);
      },
    },
    {
      name: "DeleteTemplate",
      call: { method: "DeleteTemplate", request: { classId: own } },
      code: 0,
      httpStatus: 200,
      check: (json) => expect(json).toEqual({}),
    },
    {
      name: "Enroll with class id 0",
      call: {
        method: "Enroll",
        request: { classId: "0", images: [{ image: b64("people/person-02/01.jpg") }] },
      },
      code: 3,
      httpStatus: 400,
      // The comma checks grpc-message is percent-encoded as gRPC clients decode it.
      message: /^classId must be a positive 64-bit number, got 0$/,
    },
    {
      name: "Verify against a class without template",
      call: {
        method: "Verify",
        request: { classId: own, image: { image: b64("people/person-01/02.jpg") } },
      },
      code: 5,
      httpStatus: 404,
      message: new RegExp(`class ${own}`),
    },
    {
      name: "Search without images",
      call: { method: "Search", request: { images: [] } },
      code: 3,
      httpStatus: 400,
      message: /images: at least one image is needed/,
    },
    {
      name: "SetTemplateTags on a class without template",
      call: { method: "SetTemplateTags", request: { classId: own, tags: ["x"] } },
      code: 5,
      httpStatus: 404,
    },
    {
      name: "GetTemplateStatus without a token",
      call: { method: "GetTemplateStatus", request: { classId: own }, anonymous: true },
      code: 16,
      httpStatus: 401,
      message: /authorization/i,
    },
    {
      name: "DeleteTemplate of a deleted class",
      call: { method: "DeleteTemplate", request: { classId: own } },
      code: 5,
      httpStatus: 404,
    },
  ];
}

interface Cell {
  client: (typeof vendorClientNames)[number];
  gzip: boolean;
  deadline: boolean;
}
const cells: Cell[] = vendorClientNames.flatMap((client) =>
  [false, true].flatMap((gzip) => [false, true].map((deadline) => ({ client, gzip, deadline }))),
);

/** Answers per cell, by step, with the cell's own class id masked, for the final comparison. */
const answers = new Map<string, (JsonObject | undefined)[]>();
/** Every call made: for the bookkeeping check. */
const made: { result: VendorResult; step: Step; referenceNumber: string }[] = [];

describe("conformance matrix", () => {
  cells.forEach((cell, index) => {
    const label = `${cell.client} ${cell.gzip ? "gzip" : "identity"} ${cell.deadline ? "5-minute deadline" : "no deadline"}`;
    it(label, async () => {
      const own = String(5000 + index);
      const plan = steps(own);
      const calls: VendorCall[] = plan.map((step, i) => ({
        method: step.call.method,
        request: step.call.request,
        token: step.call.anonymous ? null : token,
        referenceNumber: `cf-${index}-${i}`,
        gzip: cell.gzip,
        ...(cell.deadline ? { timeoutMs: 5 * 60_000 } : {}),
      }));
      const client = clients.find((c) => c.name === cell.client) as VendorClient;
      const results = await client.run(calls);
      results.forEach((result, i) => {
        const step = plan[i] as Step;
        const where = `${label}: ${step.name}`;
        expect({ code: result.code, message: result.message }, where).toMatchObject({
          code: step.code,
          ...(step.message ? { message: expect.stringMatching(step.message) } : {}),
        });
        if (cell.client === "rest") expect(result.httpStatus, where).toBe(step.httpStatus);
        // The job headers, on answers and errors alike.
        expect(result.headers.get("jobid"), where).toMatch(
          /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        );
        expect(result.headers.get("bws-version"), where).toBe("3.0.0-test");
        expect(result.headers.get("reference-number"), where).toBe(`cf-${index}-${i}`);
        expect(Number(result.headers.get("response-time-ms")), where).toBeGreaterThanOrEqual(0);
        if (cell.client !== "grpc-js" && cell.client !== "python-grpcio") {
          // C-core and grpc-js keep HTTP's own date header to themselves.
          expect(Date.parse(result.headers.get("date") ?? ""), where).toBeGreaterThan(0);
        }
        if (result.code === 0) {
          step.check?.(result.json as JsonObject);
          if (cell.client === "rest") expect(result.text, where).not.toMatch(/"classId":"/);
          if (!["grpc-js", "python-grpcio"].includes(cell.client)) {
            expect(result.responseEncoding, where).toBe(cell.gzip ? "gzip" : undefined);
          }
        }
        made.push({ result, step, referenceNumber: `cf-${index}-${i}` });
      });
      answers.set(
        label,
        results.map((r) => (r.json ? mask(r.json, own) : undefined)),
      );
    });
  });

  it("gave every client the same answers", () => {
    const [first, ...rest] = [...answers.entries()];
    expect(answers.size).toBe(cells.length);
    for (const [label, list] of rest) expect(list, `${label} vs ${first?.[0]}`).toEqual(first?.[1]);
  });

  it("kept one bookkeeping record per call, matching it", async () => {
    await server.app.server.drainBookkeeping();
    const jobs = new Map(
      (await server.app.jobLog.listJobs({ limit: 10_000 })).map((j) => [j.jobId, j]),
    );
    expect(made.length).toBe(cells.length * steps("1").length);
    for (const { result, step, referenceNumber } of made) {
      const job = jobs.get(result.headers.get("jobid") ?? "");
      expect(job, referenceNumber).toMatchObject({
        method: step.call.method,
        outcome: step.code,
        referenceNumber,
        clientId: step.call.anonymous ? "" : "alice",
      });
    }
  });
});

/** The answer with the cell's class id and enrollment times masked, for comparison. */
function mask(json: JsonObject, own: string): JsonObject {
  return JSON.parse(
    JSON.stringify(json, (key, value) => (key === "enrolled" ? "<time>" : value)).replaceAll(
      `"${own}"`,
      '"<own>"',
    ),
  ) as JsonObject;
}
