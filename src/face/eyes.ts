import type { Point } from "./types.js";

/** Mesh annotations as human reports them: named lists of [x, y, z] points in image pixels. */
export type MeshAnnotations = Partial<Record<string, [number, number, number?][]>>;

/** The landmarks the pipeline uses, in the pixels of the image the detector saw. */
export interface FaceLandmarks {
  /** Centre of the subject's left eye: on the image's right side in an upright photo. */
  leftEye: Point;
  /** Centre of the subject's right eye: on the image's left side. */
  rightEye: Point;
  /** Centre of the mouth: mean of the lip contours, as dlib's 20 mouth points. */
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

function eyeCentre(annotations: MeshAnnotations, side: "left" | "right"): Point | undefined {
  // The iris model's first point is the pupil centre; it is missing when iris is disabled.
  const iris = annotations[`${side}EyeIris`];
  if (iris?.[0]) return { x: iris[0][0], y: iris[0][1] };
  const contour = [
    ...(annotations[`${side}EyeUpper0`] ?? []),
    ...(annotations[`${side}EyeLower0`] ?? []),
  ];
  return contour.length > 0 ? mean(contour) : undefined;
}

/**
 * Eye and mouth centres from human's mesh. human names eyes from the subject's view (its
 * `leftEyeIris` lies on the image's right), which is the contract's convention, so no swap.
 * Returns undefined when the mesh lacks the points (detector-only result).
 */
export function locateLandmarks(annotations: MeshAnnotations): FaceLandmarks | undefined {
  const leftEye = eyeCentre(annotations, "left");
  const rightEye = eyeCentre(annotations, "right");
  const lips = [
    ...(annotations.lipsUpperOuter ?? []),
    ...(annotations.lipsLowerOuter ?? []),
    ...(annotations.lipsUpperInner ?? []),
    ...(annotations.lipsLowerInner ?? []),
  ];
  if (!leftEye || !rightEye || lips.length === 0) return undefined;
  return { leftEye, rightEye, mouth: mean(lips) };
}

/** Distance between the eye centres, in pixels. */
export function eyeDistance(landmarks: FaceLandmarks): number {
  return Math.hypot(
    landmarks.leftEye.x - landmarks.rightEye.x,
    landmarks.leftEye.y - landmarks.rightEye.y,
  );
}

/**
 * Angle of the line from the subject's right eye to the left eye, radians in (-pi, pi]: 0 for an
 * upright face, +pi/2 when the picture is turned 90 degrees clockwise (y grows downwards).
 */
export function eyeLineAngle(landmarks: FaceLandmarks): number {
  return Math.atan2(
    landmarks.leftEye.y - landmarks.rightEye.y,
    landmarks.leftEye.x - landmarks.rightEye.x,
  );
}
