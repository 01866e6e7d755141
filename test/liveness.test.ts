/**
 * LivenessDetection (passive, active, challenge-response), PhotoVerify and VideoLivenessDetection
 * on a real server with real photos, over REST (the other protocols are in the protocol matrix),
 * and motion liveness in FaceRecognition answers.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headTurnPair, outlineOfEyes } from "../bench/head-turn.js";
import { attackPair } from "../bench/liveness-attacks.js";
import { photo } from "./support/photos.js";
import { startTestServer, type TestServer } from "./support/test-server.js";
import { webmFromPhotos } from "./support/video.js";

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ config: { face: { workers: 1 } } });
  token = await server.token(server.clients.alice);
}, 120_000);
afterAll(async () => {
  await server?.close();
});

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

interface Answer {
  status: number;
  body: {
    live?: boolean;
    livenessScore?: number;
    errors?: { errorCode: string; message: string }[];
    imageProperties?: {
      faces?: {
        motionLivenessScore?: number;
        movementDirection?: number;
        leftEye?: { x: number; y: number };
        rightEye?: { x: number; y: number };
      }[];
    }[];
    verificationLevel?: string;
    verificationScore?: number;
    code?: number;
    message?: string;
    performedAction?: string;
  };
}

async function post(path: string, body: unknown): Promise<Answer> {
  const res = await fetch(server.baseUrl + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}

const codes = (a: Answer) => (a.body.errors ?? []).map((e) => e.errorCode);
const liveness = (images: { image: Uint8Array; tags?: string[] }[]) =>
  post("/api/v1/livenessdetection", {
    liveImages: images.map((i) => ({ image: b64(i.image), tags: i.tags ?? [] })),
  });

// alex/01 looks at the camera; in alex/03, another photo, he has turned to his own left (his
// nose points to the image's right), checked by eye.
const frontal = photo("people/alex/01.jpg");
const otherPhotoTurnedLeft = photo("people/alex/03.jpg");
/**
 * alex/01 re-rendered with his head turned 15 degrees to his own left (bench/head-turn.ts): a
 * pair whose pixels can be followed, as two frames of one capture; the fixtures hold none.
 */
let turnedLeft: Uint8Array;
beforeAll(async () => {
  const a = await liveness([{ image: frontal }]);
  const face = a.body.imageProperties?.[0]?.faces?.[0];
  if (!face?.leftEye || !face.rightEye) throw new Error("alex/01: no eyes in the answer");
  [, turnedLeft] = await headTurnPair(
    frontal,
    outlineOfEyes(face.leftEye, face.rightEye),
    "left",
    15,
    3,
  );
}, 60_000);

describe("LivenessDetection", () => {
  it("passive: one image gets a texture score and a decision that agrees with it", async () => {
    const a = await liveness([{ image: photo("people/person-02/01.jpg") }]);
    expect(a.status).toBe(200);
    expect(a.body.livenessScore).toBeGreaterThan(0);
    const rejected = codes(a).includes("RejectedByPassiveLiveDetection");
    expect(a.body.live).toBe(!rejected);
    expect(a.body.imageProperties).toHaveLength(1);
  });

  it("passive: an image without a face is not live and says so", async () => {
    const blank = await sharp({
      create: { width: 320, height: 240, channels: 3, background: "#808080" },
    })
      .jpeg()
      .toBuffer();
    const a = await liveness([{ image: blank }]);
    expect(a.body.live).toBe(false);
    expect(codes(a)).toContain("NoFaceFound");
  });

  it("active: one photo moved in front of the camera is not live", async () => {
    const [first, second] = await attackPair(photo("people/person-02/01.jpg"), "perspective", 7);
    const a = await liveness([{ image: first }, { image: second }]);
    expect(a.body.live).toBe(false);
    expect(codes(a)).toContain("RejectedByActiveLiveDetection");
    expect(a.body.imageProperties?.[1]?.faces?.[0]?.motionLivenessScore).toBeGreaterThan(0);
    expect(a.body.imageProperties?.[1]?.faces?.[0]?.motionLivenessScore).toBeLessThan(0.5);
  });

  it("active: two different photos of one person are not live (a photo swap)", async () => {
    const a = await liveness([{ image: frontal }, { image: otherPhotoTurnedLeft }]);
    expect(a.body.live).toBe(false);
    const error = a.body.errors?.find((e) => e.errorCode === "RejectedByActiveLiveDetection");
    expect(error?.message).toMatch(/pixels could not be followed/);
  });

  it("active: a head turn shows depth and fills the motion fields", async () => {
    const a = await liveness([{ image: frontal }, { image: turnedLeft }]);
    expect(codes(a)).not.toContain("RejectedByActiveLiveDetection");
    const face = a.body.imageProperties?.[1]?.faces?.[0];
    expect(face?.motionLivenessScore).toBeGreaterThanOrEqual(0.5);
    // Turned to his own left: his nose toward the image's right, 360 degrees (or close to it).
    expect(
      Math.min(face?.movementDirection ?? 0, 360 - (face?.movementDirection ?? 0)),
    ).toBeLessThan(45);
  });

  it("challenge-response: the asked direction passes the challenge", async () => {
    const a = await liveness([{ image: frontal }, { image: turnedLeft, tags: ["left"] }]);
    expect(codes(a)).not.toContain("RejectedByChallengeResponse");
  });

  it("challenge-response: the wrong direction is not live and names the way the head moved", async () => {
    const a = await liveness([{ image: frontal }, { image: turnedLeft, tags: ["right"] }]);
    expect(a.body.live).toBe(false);
    const error = a.body.errors?.find((e) => e.errorCode === "RejectedByChallengeResponse");
    expect(error?.message).toMatch(/asked to turn right but turned left/);
  });

  it("refuses a direction tag on a lone image, naming the field", async () => {
    const a = await liveness([{ image: frontal, tags: ["up"] }]);
    expect(a.status).toBe(400);
    expect(a.body.message).toMatch(/liveImages\[0\]: a direction tag needs a second image/);
  });
});

describe("PhotoVerify", () => {
  /** An ID photo as it arrives: small, JPEG-compressed, low contrast. */
  const idPhoto = (path: string) =>
    sharp(photo(path))
      .rotate()
      .resize({ width: 240 })
      .linear(0.6, 50)
      .jpeg({ quality: 40 })
      .toBuffer();

  it("matches the photo's person at a level and reports the liveness of the live images", async () => {
    const a = await post("/api/v1/photoverify", {
      photo: b64(await idPhoto("people/person-02/01.jpg")),
      liveImages: [{ image: b64(photo("people/person-02/04.jpg")) }],
    });
    expect(a.status).toBe(200);
    expect(a.body.verificationLevel).toMatch(/^LEVEL_[1-5]$/);
    expect(a.body.verificationScore).toBeGreaterThan(0.5);
    expect(a.body.livenessScore).toBeGreaterThan(0);
  });

  it("does not recognise another person", async () => {
    const a = await post("/api/v1/photoverify", {
      photo: b64(await idPhoto("people/person-03/01.jpg")),
      liveImages: [{ image: b64(photo("people/person-02/04.jpg")) }],
      disableLivenessDetection: true,
    });
    expect(a.body.verificationLevel).toBe("NOT_RECOGNIZED");
    expect(a.body.verificationScore).toBeLessThan(0.5);
    expect(a.body.live).toBe(false);
  });

  it("requires the photo, naming the field", async () => {
    const a = await post("/api/v1/photoverify", {
      liveImages: [{ image: b64(photo("people/person-02/04.jpg")) }],
    });
    expect(a.status).toBe(400);
    expect(a.body.message).toMatch(/photo: an ID photo is required/);
  });
});

describe("VideoLivenessDetection", () => {
  it("decodes a WebM video, samples frames and runs active liveness across them", async () => {
    const video = await webmFromPhotos([frontal, turnedLeft]);
    const a = await post("/api/v1/videolivenessdetection", { video: b64(video) });
    expect(a.status).toBe(200);
    expect(a.body.imageProperties?.length).toBeGreaterThanOrEqual(2);
    expect(codes(a)).not.toContain("RejectedByActiveLiveDetection");
    expect(a.body.livenessScore).toBeGreaterThan(0);
  });

  it("finds no depth in a video of one still photo", async () => {
    const [first, second] = await attackPair(photo("people/person-02/01.jpg"), "perspective", 11);
    const a = await post("/api/v1/videolivenessdetection", {
      video: b64(await webmFromPhotos([first, second])),
    });
    expect(a.body.live).toBe(false);
    expect(codes(a)).toContain("RejectedByActiveLiveDetection");
  });

  it("refuses bytes that are no video, naming the field", async () => {
    const a = await post("/api/v1/videolivenessdetection", { video: b64(frontal) });
    expect(a.status).toBe(400);
    expect(a.body.message).toMatch(/^video: /);
  });
});

describe("motion in FaceRecognition", () => {
  it("Enroll fills the motion fields of the second image of one person", async () => {
    const a = await post("/api/face/v1/enroll/77", [
      { image: b64(frontal) },
      { image: b64(turnedLeft) },
    ]);
    expect(a.body.performedAction).toBe("NEW_TEMPLATE_CREATED");
    expect(a.body.imageProperties?.[0]?.faces?.[0]?.motionLivenessScore ?? 0).toBe(0);
    expect(a.body.imageProperties?.[1]?.faces?.[0]?.motionLivenessScore).toBeGreaterThan(0);
    expect(a.body.imageProperties?.[1]?.faces?.[0]?.movementDirection).toBeGreaterThan(0);
  });
});
