import type { Point } from "./types.js";

/** Mesh annotations as human reports them: named lists of [x, y, z] points in image pixels. */
export type MeshAnnotations = Partial<Record<string, [number, number, number?][]>>;

/** The landmarks the pipeline uses, in the pixels of the image the detector saw. */
export interface FaceLandmarks {
  /** Pupil of the subject's left eye: on the image's right side in an upright photo. */
  leftEye: Point;
  /** Pupil of the subject's right eye: on the image's left side. */
  rightEye: Point;
  /** The points the dlib-style crop is built from (dlib's definitions, not the pupils). */
  alignment: AlignmentPoints;
}

/**
 * dlib's reference points: each eye the mean of its contour, the mouth the mean of its lips.
 * Built from these, the crop gave fewer genuine rejections on the fixtures than from the pupils
 * (3 vs 5 of 154 at distance 0.54) and the same LFW rates.
 */
export interface AlignmentPoints {
  leftEye: Point;
  rightEye: Point;
  mouth: Point;
}

function mean(points: readonly [number, number, number?][]): Point {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += p[0];
    y += p[1];
  }
  return { x: x / points.length, y: y / points.length };
}

function eyeContourCentre(annotations: MeshAnnotations, side: "left" | "right"): Point | undefined {
  const contour = [
    ...(annotations[`${side}EyeUpper0`] ?? []),
    ...(annotations[`${side}EyeLower0`] ?? []),
  ];
  return contour.length > 0 ? mean(contour) : undefined;
}

function pupil(annotations: MeshAnnotations, side: "left" | "right"): Point | undefined {
  // The iris model's first point is the pupil centre.
  const iris = annotations[`${side}EyeIris`]?.[0];
  return iris ? { x: iris[0], y: iris[1] } : undefined;
}

/**
 * Eye centres (pupils, from the iris model) and the crop's reference points from human's mesh.
 * human names eyes from the subject's view (its `leftEyeIris` lies on the image's right), which is
 * the contract's convention, so nothing is swapped. Returns undefined when the mesh or iris
 * points are missing.
 */
export function locateLandmarks(annotations: MeshAnnotations): FaceLandmarks | undefined {
  const leftEye = pupil(annotations, "left");
  const rightEye = pupil(annotations, "right");
  const leftContour = eyeContourCentre(annotations, "left");
  const rightContour = eyeContourCentre(annotations, "right");
  const lips = [
    ...(annotations.lipsUpperOuter ?? []),
    ...(annotations.lipsLowerOuter ?? []),
    ...(annotations.lipsUpperInner ?? []),
    ...(annotations.lipsLowerInner ?? []),
  ];
  if (!leftEye || !rightEye || !leftContour || !rightContour || lips.length === 0) return undefined;
  return {
    leftEye,
    rightEye,
    alignment: { leftEye: leftContour, rightEye: rightContour, mouth: mean(lips) },
  };
}

/** Distance between the eye centres, in pixels. */
export function eyeDistance(landmarks: { leftEye: Point; rightEye: Point }): number {
  return Math.hypot(
    landmarks.leftEye.x - landmarks.rightEye.x,
    landmarks.leftEye.y - landmarks.rightEye.y,
  );
}
