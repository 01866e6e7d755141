import type { DetectedFace } from "./detect.js";

/**
 * When a photo shows several faces, which one it is about, and whether that is clear enough to
 * use it (numbers in src/face/README.md, measured on LFW folds 1-5 by
 * `npm run calibrate:face -- <lfw> primary`).
 */
export interface PrimaryFaceOptions {
  /**
   * How much being off-centre lowers a face's prominence: prominence = size x (1 - centreWeight x
   * off-centre), off-centre being the distance of the face's centre from the image's centre over
   * half the image diagonal (0 in the middle, 1 in a corner); size is the inter-eye distance.
   */
  centreWeight: number;
  /**
   * The most prominent face is used only when the next one has at most this share of its
   * prominence; otherwise no face dominates and the photo is refused as ambiguous.
   */
  maxRunnerUpShare: number;
}

/** Defaults of {@link PrimaryFaceOptions}, measured on LFW (src/face/README.md). */
export const PRIMARY_FACE_DEFAULTS: PrimaryFaceOptions = {
  centreWeight: 1,
  maxRunnerUpShare: 0.7,
};

/** The faces of an image, the primary one first, and whether it dominates. */
export interface PrimaryFaceChoice {
  /** The faces, most prominent first. */
  faces: DetectedFace[];
  /**
   * The second face's prominence as a share of the first's, in [0,1]; 0 with fewer than two
   * faces.
   */
  runnerUpShare: number;
  /** Whether the first face may be used: it is the only one, or it clearly dominates. */
  dominant: boolean;
}

/**
 * A face's prominence in an image of `width` x `height` pixels (the face's own pixels): its
 * inter-eye distance, lowered the further its centre (eyes and mouth) lies from the image centre.
 */
export function prominence(
  face: DetectedFace,
  width: number,
  height: number,
  centreWeight: number,
): number {
  const { leftEye, rightEye, mouth } = face.landmarks.alignment;
  const cx = (leftEye.x + rightEye.x + mouth.x) / 3;
  const cy = (leftEye.y + rightEye.y + mouth.y) / 3;
  const offCentre = Math.hypot(cx - width / 2, cy - height / 2) / (0.5 * Math.hypot(width, height));
  return face.eyeDistance * Math.max(0.01, 1 - centreWeight * offCentre);
}

/**
 * Orders the faces of an upright image of `width` x `height` pixels by prominence and decides
 * whether the first dominates (see {@link PrimaryFaceOptions}).
 */
export function choosePrimaryFace(
  faces: readonly DetectedFace[],
  width: number,
  height: number,
  options: PrimaryFaceOptions,
): PrimaryFaceChoice {
  const ranked = faces
    .map((face) => ({ face, p: prominence(face, width, height, options.centreWeight) }))
    .sort((a, b) => b.p - a.p);
  const [first, second] = ranked;
  const runnerUpShare = first && second ? second.p / first.p : 0;
  return {
    faces: ranked.map((r) => r.face),
    runnerUpShare,
    dominant: first !== undefined && runnerUpShare <= options.maxRunnerUpShare,
  };
}
