import { describe, expect, it } from "vitest";
import type { DetectedFace } from "./detect.js";
import { choosePrimaryFace, PRIMARY_FACE_DEFAULTS } from "./primary-face.js";
import {
  assessQuality,
  grade,
  QUALITY_DEFAULTS,
  type QualityInput,
  qualityScore,
} from "./quality.js";

function face(overrides: Partial<DetectedFace> = {}): DetectedFace {
  const leftEye = { x: 240, y: 180 };
  const rightEye = { x: 160, y: 180 };
  return {
    box: { x: 100, y: 100, width: 200, height: 200 },
    confidence: 0.9,
    landmarks: { leftEye, rightEye, alignment: { leftEye, rightEye, mouth: { x: 200, y: 260 } } },
    eyeDistance: 80,
    mesh: [],
    pose: { yaw: 0, pitch: 0, roll: 0 },
    real: 0.8,
    live: 0.9,
    ...overrides,
  };
}

/** A face of eye distance `eyes` whose eyes and mouth centre on (x, y). */
function faceAt(x: number, y: number, eyes: number): DetectedFace {
  const leftEye = { x: x + eyes / 2, y: y - eyes / 3 };
  const rightEye = { x: x - eyes / 2, y: y - eyes / 3 };
  const mouth = { x, y: y + (2 * eyes) / 3 };
  return face({ landmarks: { leftEye, rightEye, alignment: { leftEye, rightEye, mouth } } });
}

function input(faces: DetectedFace[], overrides: Partial<QualityInput> = {}): QualityInput {
  const choice = choosePrimaryFace(faces, 640, 480, PRIMARY_FACE_DEFAULTS);
  return {
    faces: choice.faces,
    primary: { ...choice, maxRunnerUpShare: PRIMARY_FACE_DEFAULTS.maxRunnerUpShare },
    visible: 1,
    pixels: { sharpness: 100, brightness: 120, dark: 0, bright: 0 },
    inputWidth: 640,
    inputHeight: 480,
    analysisWidth: 640,
    analysisHeight: 480,
    scale: 1,
    ...overrides,
  };
}

const byName = (checks: { check: string; score: number; message: string }[], name: string) =>
  checks.find((c) => c.check === name);

describe("grade", () => {
  it("ramps linearly in either direction and clamps", () => {
    expect(grade(5, 0, 10)).toBe(0.5);
    expect(grade(-1, 0, 10)).toBe(0);
    expect(grade(11, 0, 10)).toBe(1);
    expect(grade(30, 40, 20)).toBe(0.5);
  });
});

describe("assessQuality", () => {
  it("passes a good single face", () => {
    const v = assessQuality(input([face()]), QUALITY_DEFAULTS);
    expect(v.suitable).toBe(true);
    for (const name of ["FaceFound", "SingleFaceOnImage", "SuitableFace", "FullyVisibleFace"]) {
      expect(byName(v.checks, name)?.score).toBe(1);
    }
    expect(qualityScore(v.checks)).toBeGreaterThan(0.5);
  });

  it("fails FaceFound without faces and reports no face checks", () => {
    const v = assessQuality(input([]), QUALITY_DEFAULTS);
    expect(byName(v.checks, "FaceFound")?.score).toBe(0);
    expect(byName(v.checks, "SingleFaceOnImage")?.score).toBe(0);
    expect(byName(v.checks, "SuitableFace")).toBeUndefined();
    expect(v.suitable).toBe(false);
    expect(qualityScore(v.checks)).toBe(0);
  });

  it("refuses two equally prominent faces and says so", () => {
    const v = assessQuality(input([faceAt(200, 240, 80), faceAt(440, 240, 80)]), QUALITY_DEFAULTS);
    const single = byName(v.checks, "SingleFaceOnImage");
    expect(single?.score).toBe(0);
    expect(single?.message).toMatch(/^2 faces found and none clearly dominates: .* 100% /);
    expect(v.suitable).toBe(false);
    expect(qualityScore(v.checks)).toBe(0);
  });

  it("uses a face that clearly dominates a smaller one off-centre, and says which", () => {
    const subject = faceAt(330, 250, 80);
    const passerBy = faceAt(580, 80, 30);
    const v = assessQuality(input([passerBy, subject]), QUALITY_DEFAULTS);
    const single = byName(v.checks, "SingleFaceOnImage");
    expect(single?.message).toMatch(
      /^2 faces found; the first one listed \(eyes at \(370, 223\) and \(290, 223\)\) clearly dominates and was used/,
    );
    expect(single?.score).toBeGreaterThan(0.5);
    expect(single?.score).toBeLessThan(1);
    expect(v.suitable).toBe(true);
  });

  it("names the reason of an unsuitable face", () => {
    const profile = assessQuality(
      input([face({ pose: { yaw: 70, pitch: 0, roll: 0 } })]),
      QUALITY_DEFAULTS,
    );
    expect(byName(profile.checks, "SuitableFace")?.message).toMatch(/profile/);
    const small = assessQuality(input([face({ eyeDistance: 10 })]), QUALITY_DEFAULTS);
    expect(byName(small.checks, "SuitableFace")?.message).toMatch(/eyes too close together/);
    const border = assessQuality(input([face()], { visible: 0.6 }), QUALITY_DEFAULTS);
    expect(byName(border.checks, "SuitableFace")?.message).toMatch(/too close to the border/);
    for (const v of [profile, small, border]) {
      expect(v.suitable).toBe(false);
      expect(qualityScore(v.checks)).toBe(0);
    }
  });

  it("reports the downscale in ImageSize without lowering the quality score", () => {
    const v = assessQuality(
      input([face()], {
        inputWidth: 4000,
        inputHeight: 3000,
        analysisWidth: 1600,
        analysisHeight: 1200,
        scale: 0.4,
      }),
      QUALITY_DEFAULTS,
    );
    expect(byName(v.checks, "ImageSize")?.message).toMatch(
      /scaled down from 4000x3000 to 1600x1200/,
    );
    expect(byName(v.checks, "FaceSize")?.message).toMatch(/200 px in the input/);
  });

  it("grades blur and bad exposure down", () => {
    const blurred = assessQuality(
      input([face()], { pixels: { sharpness: 1, brightness: 120, dark: 0, bright: 0 } }),
      QUALITY_DEFAULTS,
    );
    expect(byName(blurred.checks, "Sharpness")?.score).toBe(0);
    const dark = assessQuality(
      input([face()], { pixels: { sharpness: 100, brightness: 10, dark: 0.9, bright: 0 } }),
      QUALITY_DEFAULTS,
    );
    expect(byName(dark.checks, "Exposure")?.score).toBe(0);
  });
});
