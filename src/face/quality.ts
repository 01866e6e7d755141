import type { DetectedFace } from "./detect.js";
import type { PixelMeasures } from "./image-measures.js";
import type { QualityCheck } from "./types.js";

/**
 * Thresholds of the quality checks. Every default is a measurement (src/face/README.md):
 * LFW folds 1-5 and the 76 fixture portraits degraded step by step
 * (`bench/face-calibrate.ts`), judged by the genuine pairs encoder 2 still accepts.
 */
export interface QualityOptions {
  /**
   * Inter-eye distance (analysed pixels) below which a face is unsuitable ("eyes too close
   * together"). Default 20: portraits scaled to 20 px kept 92% of genuine pairs (98% at full
   * size), 16 px 89%, 12 px 69%.
   */
  minEyeDistance: number;
  /** Inter-eye distance from which `FaceSize` scores 1. Default 40: 96% kept, as from 60 px. */
  goodEyeDistance: number;
  /**
   * |yaw| (degrees) from which `HeadPose` loses score. Default 25: on LFW, genuine pairs were
   * rejected at 10 to 11% up to 30 degrees of the more turned photo, 32% from 30 to 45.
   */
  goodYaw: number;
  /** |yaw| above which a face is a profile and unsuitable. Default 45. */
  maxYaw: number;
  /** |pitch| from which `HeadPose` loses score (default 20; LFW 99th percentile 18.6) ... */
  goodPitch: number;
  /** ... and where it reaches 0 (default 40). */
  badPitch: number;
  /** |roll| from which `HeadPose` loses score (default 15; LFW 99th percentile 12.4) ... */
  goodRoll: number;
  /** ... and where it reaches 0 (default 40; the crop is not levelled, see align.ts). */
  badRoll: number;
  /**
   * Share of the face mesh inside the image below which a face is too close to the border.
   * Default 0.9 (see the cut faces in the README).
   */
  minVisible: number;
  /**
   * `sharpness` (image-measures.ts: detail of the crop the encoder reads, so blur and upscaled
   * small faces both lower it) where `Sharpness` scores 0 and 1. Defaults 8 and 25: portraits
   * blurred to 31.6 kept 97% of genuine pairs, 15.3 92%, 9.6 84%, 7.1 72%, 5.1 48%; LFW's
   * median is 17.6, its 1st percentile 8.4. Graded, never a reason to reject.
   */
  badSharpness: number;
  goodSharpness: number;
  /**
   * Inner-face mean grey level: `Exposure` is 1 within [goodDark, goodBright] and 0 at badDark /
   * badBright. Defaults 30, 80, 200, 250: darkened to 48 kept 91% of genuine pairs, 78 94.5%,
   * 113 97.4%; brightened to 219 still 97.4%. LFW: 1st percentile 73, 99th 182.
   */
  badDark: number;
  goodDark: number;
  goodBright: number;
  badBright: number;
  /**
   * Share of inner-face pixels crushed (< 16) or blown (≥ 240) where `Exposure` starts to drop
   * and where it reaches 0. Defaults 0.05 and 0.35: LFW's 95th percentile is 0.03; 21% clipped
   * (darkened portraits) kept 91% of genuine pairs.
   */
  goodClipped: number;
  badClipped: number;
}

/** Defaults of {@link QualityOptions}, each measured (src/face/README.md). */
export const QUALITY_DEFAULTS: QualityOptions = {
  minEyeDistance: 20,
  goodEyeDistance: 40,
  goodYaw: 25,
  maxYaw: 45,
  goodPitch: 20,
  badPitch: 40,
  goodRoll: 15,
  badRoll: 40,
  minVisible: 0.9,
  badSharpness: 8,
  goodSharpness: 25,
  badDark: 30,
  goodDark: 80,
  goodBright: 200,
  badBright: 250,
  goodClipped: 0.05,
  badClipped: 0.35,
};

/** Linear grade: 0 at `bad`, 1 at `good`, clamped; works for either direction. */
export function grade(value: number, bad: number, good: number): number {
  if (bad === good) return value >= good ? 1 : 0;
  return Math.min(1, Math.max(0, (value - bad) / (good - bad)));
}

const round = (v: number, digits = 0): string => v.toFixed(digits);

/** What the quality stage knows about the image and its primary face. */
export interface QualityInput {
  /** All faces found, the primary (most prominent) first. */
  faces: readonly DetectedFace[];
  /** How the primary face compares with the others (primary-face.ts). */
  primary: {
    /** The second face's prominence as a share of the first's; 0 with fewer than two faces. */
    runnerUpShare: number;
    /** Whether the first face may be used. */
    dominant: boolean;
    /** The largest share at which the first face still dominates. */
    maxRunnerUpShare: number;
  };
  /** Share of the primary face's mesh inside the image. */
  visible: number;
  /** Pixel measures of the primary face's aligned crop. */
  pixels: PixelMeasures | undefined;
  /** Input size after EXIF orientation and analysis size, pixels. */
  inputWidth: number;
  inputHeight: number;
  analysisWidth: number;
  analysisHeight: number;
  /** Analysed pixels per input pixel. */
  scale: number;
}

/** The graded checks and the verdict on the primary face. */
export interface QualityVerdict {
  checks: QualityCheck[];
  /** Whether the primary face dominates the image and is suitable for features. */
  suitable: boolean;
}

/**
 * `SingleFaceOnImage`: 1 for exactly one face; for several, 1 - the runner-up's share of the
 * primary's prominence when the primary dominates (it is used), 0 when none does (the photo is
 * refused as ambiguous), and 0 without a face. The message says what was found and which face
 * was used (the first of `faces`, by its eyes in input pixels).
 */
function singleFaceCheck(input: QualityInput): QualityCheck {
  const { faces, primary } = input;
  const n = faces.length;
  if (n === 0) return { check: "SingleFaceOnImage", score: 0, message: "no face found" };
  if (n === 1) return { check: "SingleFaceOnImage", score: 1, message: "exactly one face" };
  const share = `${round(100 * primary.runnerUpShare)}%`;
  const limit = `${round(100 * primary.maxRunnerUpShare)}%`;
  if (!primary.dominant) {
    return {
      check: "SingleFaceOnImage",
      score: 0,
      message: `${n} faces found and none clearly dominates: the second has ${share} of the first's prominence (size and nearness to the centre; at most ${limit} to use the first), so no face was used; send a photo of the one person`,
    };
  }
  const face = faces[0] as DetectedFace;
  const eye = (p: { x: number; y: number }) =>
    `(${round(p.x / input.scale)}, ${round(p.y / input.scale)})`;
  return {
    check: "SingleFaceOnImage",
    score: 1 - primary.runnerUpShare,
    message: `${n} faces found; the first one listed (eyes at ${eye(face.landmarks.leftEye)} and ${eye(face.landmarks.rightEye)}) clearly dominates and was used: the next has ${share} of its prominence (size and nearness to the centre; at most ${limit})`,
  };
}

/**
 * Grades an image. Always: `FaceFound`, `SingleFaceOnImage`, `ImageSize`; with a face, for the
 * primary (most prominent) one: `SuitableFace`, `FullyVisibleFace`, `FaceSize`, `HeadPose`,
 * `Sharpness`, `Exposure`. `FaceFeaturesAvailable` is added by the pipeline once it knows.
 */
export function assessQuality(input: QualityInput, options: QualityOptions): QualityVerdict {
  const { faces } = input;
  const checks: QualityCheck[] = [];
  checks.push({
    check: "FaceFound",
    score: faces.length > 0 ? 1 : 0,
    message: faces.length > 0 ? `${faces.length} face(s) found` : "no face found",
  });
  checks.push(singleFaceCheck(input));
  const scaled = input.scale < 1;
  checks.push({
    check: "ImageSize",
    score: 1,
    message: scaled
      ? `scaled down from ${input.inputWidth}x${input.inputHeight} to ${input.analysisWidth}x${input.analysisHeight} for analysis; coordinates refer to the input`
      : `analysed at full size ${input.inputWidth}x${input.inputHeight}`,
  });
  const face = faces[0];
  if (!face) return { checks, suitable: false };

  const reasons: string[] = [];
  const ied = face.eyeDistance;
  const { yaw, pitch, roll } = face.pose;
  if (Math.abs(yaw) > options.maxYaw) {
    reasons.push(
      `profile: head turned ${round(Math.abs(yaw))} degrees (at most ${options.maxYaw})`,
    );
  }
  if (ied < options.minEyeDistance) {
    reasons.push(
      `eyes too close together: ${round(ied)} px apart as analysed (at least ${options.minEyeDistance})`,
    );
  }
  if (input.visible < options.minVisible) {
    reasons.push(
      `too close to the border: ${round(100 * (1 - input.visible))}% of the face is outside the image`,
    );
  }
  checks.push({
    check: "SuitableFace",
    score: reasons.length === 0 ? 1 : 0,
    message: reasons.length === 0 ? "the face is suitable for recognition" : reasons.join("; "),
  });
  checks.push({
    check: "FullyVisibleFace",
    score: grade(input.visible, options.minVisible, 1),
    message: `${round(100 * input.visible)}% of the face inside the image`,
  });
  const inputIed = ied / input.scale;
  checks.push({
    check: "FaceSize",
    score: grade(ied, options.minEyeDistance, options.goodEyeDistance),
    message: scaled
      ? `eyes ${round(ied)} px apart as analysed (${round(inputIed)} px in the input)`
      : `eyes ${round(ied)} px apart`,
  });
  const poseScore = Math.min(
    grade(Math.abs(yaw), options.maxYaw, options.goodYaw),
    grade(Math.abs(pitch), options.badPitch, options.goodPitch),
    grade(Math.abs(roll), options.badRoll, options.goodRoll),
  );
  checks.push({
    check: "HeadPose",
    score: poseScore,
    message: `yaw ${round(yaw)}, pitch ${round(pitch)}, roll ${round(roll)} degrees`,
  });
  if (input.pixels) {
    const p = input.pixels;
    checks.push({
      check: "Sharpness",
      score: grade(p.sharpness, options.badSharpness, options.goodSharpness),
      message: `sharpness ${round(p.sharpness)} (good from ${options.goodSharpness})`,
    });
    const level =
      p.brightness < options.goodDark
        ? grade(p.brightness, options.badDark, options.goodDark)
        : grade(p.brightness, options.badBright, options.goodBright);
    const clipping = grade(p.dark + p.bright, options.badClipped, options.goodClipped);
    checks.push({
      check: "Exposure",
      score: Math.min(level, clipping),
      message: `face brightness ${round(p.brightness)} of 255, ${round(100 * p.dark, 1)}% crushed, ${round(100 * p.bright, 1)}% blown`,
    });
  }
  return { checks, suitable: input.primary.dominant && reasons.length === 0 };
}

/**
 * The image's quality score: the lowest score among its checks, `ImageSize` aside (informative
 * only). So a failed gate (no face, several faces, unsuitable face, no features) gives 0, and
 * otherwise the weakest measured aspect decides.
 */
export function qualityScore(checks: readonly QualityCheck[]): number {
  let score = 1;
  for (const c of checks) if (c.check !== "ImageSize") score = Math.min(score, c.score);
  return score;
}
