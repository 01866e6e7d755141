import { describe, expect, it } from "vitest";
import type { DetectedFace } from "./detect.js";
import { choosePrimaryFace, PRIMARY_FACE_DEFAULTS, prominence } from "./primary-face.js";

/** A face of inter-eye distance `eyes` whose eyes and mouth centre on (x, y). */
function faceAt(x: number, y: number, eyes: number): DetectedFace {
  const leftEye = { x: x + eyes / 2, y: y - eyes / 3 };
  const rightEye = { x: x - eyes / 2, y: y - eyes / 3 };
  const mouth = { x, y: y + (2 * eyes) / 3 };
  return {
    box: { x: x - eyes, y: y - eyes, width: 2 * eyes, height: 2 * eyes },
    confidence: 0.9,
    landmarks: { leftEye, rightEye, alignment: { leftEye, rightEye, mouth } },
    eyeDistance: eyes,
    mesh: [],
    pose: { yaw: 0, pitch: 0, roll: 0 },
    real: 0.8,
    live: 0.9,
  };
}

describe("prominence", () => {
  it("is the eye distance in the centre and falls off towards the corners", () => {
    expect(prominence(faceAt(320, 240, 50), 640, 480, 1)).toBeCloseTo(50);
    expect(prominence(faceAt(0, 0, 50), 640, 480, 1)).toBeCloseTo(0.5);
    expect(prominence(faceAt(160, 120, 50), 640, 480, 1)).toBeCloseTo(25);
    expect(prominence(faceAt(160, 120, 50), 640, 480, 0)).toBeCloseTo(50);
  });
});

describe("choosePrimaryFace", () => {
  const choose = (faces: DetectedFace[]) =>
    choosePrimaryFace(faces, 640, 480, PRIMARY_FACE_DEFAULTS);

  it("takes a single face, and finds none in an empty image", () => {
    const one = faceAt(100, 100, 20);
    expect(choose([one])).toEqual({ faces: [one], runnerUpShare: 0, dominant: true });
    expect(choose([])).toEqual({ faces: [], runnerUpShare: 0, dominant: false });
  });

  it("puts the large central face first and lets it dominate a passer-by", () => {
    const subject = faceAt(300, 260, 90);
    const passerBy = faceAt(560, 90, 40);
    const c = choose([passerBy, subject]);
    expect(c.faces).toEqual([subject, passerBy]);
    expect(c.dominant).toBe(true);
    expect(c.runnerUpShare).toBeLessThan(0.5);
  });

  it("finds no dominant face between two alike", () => {
    const c = choose([faceAt(200, 240, 80), faceAt(430, 240, 76)]);
    expect(c.dominant).toBe(false);
    expect(c.runnerUpShare).toBeGreaterThan(PRIMARY_FACE_DEFAULTS.maxRunnerUpShare);
  });
});
