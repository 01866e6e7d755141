/**
 * The conformance matrix: every RPC, success and error, over every client a BWS user may have
 * (grpc-js, Python's C-core gRPC, Connect JSON, Connect binary, gRPC-Web, REST) x {identity,
 * gzip} x {no deadline, a 5-minute deadline}, with clients compiled only from the vendor-layout
 * schema in test/fixtures/contract. Each cell checks the answers, the job headers on every
 * response, the error mapping (gRPC code, and HTTP status for REST) and compression; at the end
 * every client must have received the same answers and every call must have its bookkeeping.
 * The BioIDWebService calls (liveness, video liveness, PhotoVerify) run over every client x
 * {identity, gzip} only, without the deadline dimension (the same code path for both services),
 * and the gzip cells only run the steps of `webGzipSteps`: face analysis is slow on this box
 * (~0.3 s an image), and compression needs one image in and one answer out, not every image set.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headTurnPair, outlineOfEyes } from "../bench/head-turn.js";
import type { Point } from "../src/face/types.js";
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
import { webmFromPhotos } from "./support/video.js";

let server: TestServer;
let clients: VendorClient[];
let token: string;

const seeded = "4242";
const b64 = (path: string) => Buffer.from(photo(path)).toString("base64");
const bytes64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/**
 * The web service's inputs that are made, not read: made once so every client sends the same
 * bytes.
 */
let webInputs: { turnedLeft: string; video: string; idPhoto02: string; idPhoto03: string };

/** An ID photo as it arrives (small, JPEG, low contrast), as test/liveness.test.ts makes it. */
async function idPhoto(path: string): Promise<string> {
  const jpeg = await sharp(photo(path))
    .rotate()
    .resize({ width: 240 })
    .linear(0.6, 50)
    .jpeg({ quality: 40 })
    .toBuffer();
  return bytes64(jpeg);
}

beforeAll(async () => {
  // Every answer compressed when the client accepts it, so each gzip cell checks it.
  server = await startTestServer({ config: { http: { compressMinBytes: 0 } } });
  // Long enough for the whole file on a loaded machine: an expired token would fail the late cells.
  token = await server.token(server.clients.alice, 30);
  const seed = await fetch(`${server.baseUrl}/api/face/v1/enroll/${seeded}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify([{ image: b64("people/person-01/01.jpg") }]),
  });
  expect(((await seed.json()) as { performedAction: string }).performedAction).toBe(
    "NEW_TEMPLATE_CREATED",
  );
  clients = createVendorClients(server.address, loadVendorSchema());
  // alex/01 re-rendered with his head turned 15 degrees to his own left (bench/head-turn.ts),
  // around the eyes the service reports: a pair whose pixels can be followed, as two frames of
  // one capture (two different photos are refused as a photo swap).
  const eyes = await fetch(`${server.baseUrl}/api/v1/livenessdetection`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ liveImages: [{ image: b64(frontal) }] }),
  });
  const face = ((await eyes.json()) as WebAnswer).imageProperties[0]?.faces[0] as
    | { leftEye?: Point; rightEye?: Point }
    | undefined;
  if (!face?.leftEye || !face.rightEye) throw new Error(`${frontal}: no eyes in the answer`);
  const [, turned] = await headTurnPair(
    photo(frontal),
    outlineOfEyes(face.leftEye, face.rightEye),
    "left",
    15,
    3,
  );
  webInputs = {
    turnedLeft: bytes64(turned as Uint8Array),
    video: bytes64(await webmFromPhotos([photo(frontal), turned as Uint8Array])),
    idPhoto02: await idPhoto("people/person-02/01.jpg"),
    idPhoto03: await idPhoto("people/person-03/01.jpg"),
  };
});

afterAll(async () => {
  for (const c of clients ?? []) c.close();
  await server?.close();
});

interface Step {
  name: string;
  call: Pick<VendorCall, "service" | "method" | "request"> & { anonymous?: boolean };
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

// alex/01 looks at the camera; its head-turned copy is made in beforeAll.
const frontal = "people/alex/01.jpg";

type WebAnswer = {
  live: boolean;
  livenessScore: number;
  errors: { errorCode: string; message: string }[];
  imageProperties: { faces: { motionLivenessScore: number; movementDirection: number }[] }[];
  verificationLevel: string;
  verificationScore: number;
};
const codesOf = (json: JsonObject) => (json as WebAnswer).errors.map((e) => e.errorCode);

/**
 * The BioIDWebService calls, each once; 13 face analyses in all (the video gives 4 frames), so
 * a client's run stays a few seconds. The images are the ones test/liveness.test.ts checked.
 */
function webSteps(): Step[] {
  const web = (method: string, request: JsonObject) => ({
    service: "BioIDWebService" as const,
    method,
    request,
  });
  return [
    {
      name: "LivenessDetection of one image (passive)",
      call: web("LivenessDetection", { liveImages: [{ image: b64("people/person-02/01.jpg") }] }),
      code: 0,
      httpStatus: 200,
      check: (json) => {
        const a = json as WebAnswer;
        expect(json).toMatchObject({ status: "SUCCEEDED" });
        expect(a.imageProperties).toHaveLength(1);
        expect(a.livenessScore).toBeGreaterThan(0);
        expect(a.live).toBe(!codesOf(json).includes("RejectedByPassiveLiveDetection"));
      },
    },
    {
      name: "LivenessDetection of a head turn",
      call: web("LivenessDetection", {
        liveImages: [{ image: b64(frontal) }, { image: webInputs.turnedLeft }],
      }),
      code: 0,
      httpStatus: 200,
      check: (json) => {
        expect(codesOf(json)).not.toContain("RejectedByActiveLiveDetection");
        const face = (json as WebAnswer).imageProperties[1]?.faces[0];
        expect(face?.motionLivenessScore).toBeGreaterThanOrEqual(0.5);
        // Turned to his own left: his nose toward the image's right, 360 degrees or close to it.
        const direction = face?.movementDirection ?? 180;
        expect(Math.min(direction, 360 - direction)).toBeLessThan(45);
      },
    },
    {
      // The wrong direction, so the answer shows the tag reached the server: a lost tag would
      // ask no challenge and pass.
      name: "LivenessDetection with a direction tag the head did not follow",
      call: web("LivenessDetection", {
        liveImages: [{ image: b64(frontal) }, { image: webInputs.turnedLeft, tags: ["right"] }],
      }),
      code: 0,
      httpStatus: 200,
      check: (json) => {
        const a = json as WebAnswer;
        expect(a.live).toBe(false);
        const error = a.errors.find((e) => e.errorCode === "RejectedByChallengeResponse");
        expect(error?.message).toMatch(/asked to turn right but turned left/);
      },
    },
    {
      name: "PhotoVerify of the photo's person",
      call: web("PhotoVerify", {
        photo: webInputs.idPhoto02,
        liveImages: [{ image: b64("people/person-02/04.jpg") }],
      }),
      code: 0,
      httpStatus: 200,
      check: (json) => {
        const a = json as WebAnswer;
        expect(json).toMatchObject({ status: "SUCCEEDED" });
        expect(a.verificationLevel).toMatch(/^LEVEL_[1-5]$/);
        expect(a.verificationScore).toBeGreaterThan(0.5);
        expect(a.livenessScore).toBeGreaterThan(0);
      },
    },
    {
      name: "PhotoVerify of another person",
      call: web("PhotoVerify", {
        photo: webInputs.idPhoto03,
        liveImages: [{ image: b64("people/person-02/04.jpg") }],
        disableLivenessDetection: true,
      }),
      code: 0,
      httpStatus: 200,
      check: (json) => {
        const a = json as WebAnswer;
        expect(a.verificationLevel).toBe("NOT_RECOGNIZED");
        expect(a.verificationScore).toBeLessThan(0.5);
        // Liveness was switched off: neither decided nor scored.
        expect(a.live).toBe(false);
        expect(a.livenessScore).toBe(0);
      },
    },
    {
      name: "PhotoVerify without a photo",
      call: web("PhotoVerify", { liveImages: [{ image: b64("people/person-02/04.jpg") }] }),
      code: 3,
      httpStatus: 400,
      message: /^photo: an ID photo is required/,
    },
    {
      name: "VideoLivenessDetection of a WebM head turn",
      call: web("VideoLivenessDetection", { video: webInputs.video }),
      code: 0,
      httpStatus: 200,
      check: (json) => {
        const a = json as WebAnswer;
        expect(json).toMatchObject({ status: "SUCCEEDED" });
        expect(a.imageProperties.length).toBeGreaterThanOrEqual(2);
        expect(codesOf(json)).not.toContain("RejectedByActiveLiveDetection");
        expect(a.livenessScore).toBeGreaterThan(0);
      },
    },
    {
      name: "VideoLivenessDetection of bytes that are no video",
      call: web("VideoLivenessDetection", { video: b64(frontal) }),
      code: 3,
      httpStatus: 400,
      message: /^video: /,
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

/** The web service's cells: every client, with and without gzip (see the header comment). */
const webCells: Cell[] = vendorClientNames.flatMap((client) =>
  [false, true].map((gzip) => ({ client, gzip, deadline: false })),
);
/** The web steps a gzip cell runs: one face analysis, a compressed answer, and both errors. */
const webGzipSteps = new Set([
  "LivenessDetection of one image (passive)",
  "PhotoVerify without a photo",
  "VideoLivenessDetection of bytes that are no video",
]);
const webPlan = (cell: Cell) =>
  webSteps().filter((step) => !cell.gzip || webGzipSteps.has(step.name));

/** Answers per cell, by step, with the cell's own class id masked, for the final comparison. */
const answers = new Map<string, (JsonObject | undefined)[]>();
/** The web cells' answers by step name: a gzip cell runs only some of the steps. */
const webAnswers = new Map<string, Map<string, JsonObject | undefined>>();
/** Every call made: for the bookkeeping check. */
const made: { result: VendorResult; step: Step; referenceNumber: string }[] = [];

/**
 * Runs one cell's plan on its client and checks every answer: the code and message, the HTTP
 * status for REST, the job headers, the step's own check and the compression. Gives the results.
 */
async function runCell(
  cell: Cell,
  label: string,
  plan: readonly Step[],
  reference: (i: number) => string,
): Promise<VendorResult[]> {
  const calls: VendorCall[] = plan.map((step, i) => ({
    ...(step.call.service ? { service: step.call.service } : {}),
    method: step.call.method,
    request: step.call.request,
    token: step.call.anonymous ? null : token,
    referenceNumber: reference(i),
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
    expect(result.headers.get("reference-number"), where).toBe(reference(i));
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
    made.push({ result, step, referenceNumber: reference(i) });
  });
  return results;
}

describe("conformance matrix", () => {
  cells.forEach((cell, index) => {
    const label = `${cell.client} ${cell.gzip ? "gzip" : "identity"} ${cell.deadline ? "5-minute deadline" : "no deadline"}`;
    it(label, async () => {
      const own = String(5000 + index);
      const results = await runCell(cell, label, steps(own), (i) => `cf-${index}-${i}`);
      answers.set(
        label,
        results.map((r) => (r.json ? mask(r.json, own) : undefined)),
      );
    });
  });

  webCells.forEach((cell, index) => {
    const label = `${cell.client} ${cell.gzip ? "gzip" : "identity"} BioIDWebService`;
    it(label, async () => {
      const plan = webPlan(cell);
      const results = await runCell(cell, label, plan, (i) => `cf-web-${index}-${i}`);
      // Nothing in these answers is the cell's own (job ids travel in headers): compared whole.
      webAnswers.set(label, new Map(results.map((r, i) => [(plan[i] as Step).name, r.json])));
    });
  });

  it("gave every client the same answers", () => {
    const [first, ...rest] = [...answers.entries()];
    expect(answers.size).toBe(cells.length);
    for (const [label, list] of rest) expect(list, `${label} vs ${first?.[0]}`).toEqual(first?.[1]);
    // The web service's: the first cell (identity) ran every step, each later cell some of them.
    const [webFirst, ...webRest] = [...webAnswers.entries()];
    expect(webAnswers.size).toBe(webCells.length);
    expect(webFirst?.[1].size).toBe(webSteps().length);
    for (const [label, byStep] of webRest) {
      for (const [step, json] of byStep) {
        expect(json, `${label} vs ${webFirst?.[0]}: ${step}`).toEqual(webFirst?.[1].get(step));
      }
    }
  });

  it("kept one bookkeeping record per call, matching it", async () => {
    await server.app.server.drainBookkeeping();
    const jobs = new Map(
      (await server.app.jobLog.listJobs({ limit: 10_000 })).map((j) => [j.jobId, j]),
    );
    expect(made.length).toBe(
      cells.length * steps("1").length + webCells.reduce((n, c) => n + webPlan(c).length, 0),
    );
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
