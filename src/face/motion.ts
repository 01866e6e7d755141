import { getEncoder } from "./encoders.js";
import { planarResidual } from "./homography.js";
import {
  measurePixelParallax,
  PARALLAX_DEFAULTS,
  type ParallaxOptions,
  type PixelParallax,
} from "./pixel-parallax.js";
import type { FaceGeometry, FacePatch, ImageAnalysis } from "./types.js";

/** A direction of head movement, as the challenge-response tags name it. */
export type Direction = "up" | "down" | "left" | "right";

/** Settings of active liveness (two images of one face). */
export interface MotionOptions {
  /**
   * What the depth evidence is. `pixels` (default): the face's own pixels tracked between the
   * images (pixel-parallax.ts), `minPixelResidual` the bar. `mesh`: the face mesh's points,
   * `minResidual` the bar; the mesh model draws a 3D face even on a tilted flat photo, so a
   * third to a half of moved-photo attacks passed it (README).
   */
  evidence: "pixels" | "mesh";
  /**
   * Mesh planar-fit residual, as a share of the inter-eye distance, at and above which the mesh
   * says the motion is a real head's. Used by `evidence: "mesh"` and by `untracked: "mesh"`.
   */
  minResidual: number;
  /**
   * Coherent pixel residual (pixel-parallax.ts: the part of the tracked pixels' departure from
   * a plane that neighbouring points share), as a share of the inter-eye distance, at and above
   * which the pixels move like a real head rather than a flat picture. Chosen with
   * `npm run eval:liveness` (see README): above every planar attack of the run it was chosen on
   * (largest 0.0098, a blurred pair) and below 75 of its 76 synthetic head turns.
   */
  minPixelResidual: number;
  /**
   * What a pair whose pixels cannot be followed (too few points track: two different photos, a
   * swapped face, a large change of light) counts as, with `evidence: "pixels"`. `reject`
   * (default): not live, as an attacker who shows two different photos of the victim makes
   * exactly such a pair. `mesh`: the mesh's residual decides, which lets such photo swaps pass
   * whenever the two photos differ in pose (README).
   */
  untracked: "reject" | "mesh";
  /**
   * Smallest head turn between the images, in degrees of yaw or pitch of the mesh pose, that
   * counts as a movement with a direction when the pixels do not decide.
   */
  minMovementDegrees: number;
  /**
   * Smallest shift of the nose against the rest of the face (tracked pixels, share of the eye
   * distance, larger axis; pixel-parallax.ts `noseShift`) that counts as a head turn with a
   * direction when the pixels decide. Set between the moved-photo attacks (largest 0.0083, a
   * blurred pair) and the synthetic head turns of 5-15 degrees (smallest 0.0104) of the full
   * `npm run eval:liveness` run (README).
   */
  minNoseShift: number;
  parallax: ParallaxOptions;
}

export const MOTION_DEFAULTS: MotionOptions = {
  evidence: "pixels",
  minResidual: 0.025,
  minPixelResidual: 0.0105,
  untracked: "reject",
  minMovementDegrees: 4,
  minNoseShift: 0.009,
  parallax: PARALLAX_DEFAULTS,
};

/** What the motion between two images of one face shows. */
export interface Motion {
  /**
   * Which measure decided: the tracked pixels, the mesh, or `untracked` (pixels were asked for
   * but too few points tracked, and `untracked` is `reject`).
   */
  evidence: "pixels" | "mesh" | "untracked";
  /** Whether the motion shows the depth of a real head by that measure. */
  deep: boolean;
  /**
   * The residual that decided, over the inter-eye distance: the tracked pixels' coherent
   * residual (pixel-parallax.ts) or the mesh's RMS distance to the best planar (homography)
   * fit; 0 when untracked.
   */
  residual: number;
  /** The mesh's residual, whatever decided (for reports and the evaluation). */
  meshResidual: number;
  /** What pixel tracking found, when both images carried a face patch and pixels were asked for. */
  pixels?: PixelParallax;
  /** Motion liveness in ]0,1]: 0.5 at the deciding bar, higher for more parallax. */
  score: number;
  /** Change of yaw and pitch from the first image to the second, in degrees. */
  yaw: number;
  pitch: number;
  /** The dominant direction of the head turn, undefined below `minMovementDegrees`. */
  moved: Direction | undefined;
  /**
   * The head turn's direction in the image in degrees, counter-clockwise from the image's right:
   * 90 up, 180 to the image's left, 270 down, 360 to the image's right (0 is "not computed" on
   * the wire); 0 when the head did not turn.
   */
  direction: number;
}

/**
 * Compares the primary face of two images. A real head that turns shows depth parallax: its
 * points do not move as a plane. A photo or screen held up to the camera, however it is moved or
 * tilted, moves as a plane, which a homography fits up to the measurement's noise. The points
 * are the face's own pixels, tracked (pixel-parallax.ts), or with `evidence: "mesh"` the face
 * mesh's. Direction: the pose change from the mesh (yaw, pitch), in the subject's own frame for
 * `moved` (left = the subject turns to their own left).
 */
export function measureMotion(
  a: FaceGeometry,
  b: FaceGeometry,
  options: MotionOptions = MOTION_DEFAULTS,
  measured?: PixelParallax,
): Motion {
  const scale = (a.eyeDistance + b.eyeDistance) / 2;
  const meshResidual = scale > 0 ? planarResidual(a.mesh, b.mesh) / scale : 0;
  const yaw = b.pose.yaw - a.pose.yaw;
  const pitch = b.pose.pitch - a.pose.pitch;
  // The pose change as the nose's way in the image: yaw grows as the subject turns to their own
  // right (nose toward the image's left), pitch as the head tilts down.
  const moved = directionOf(-yaw, pitch, options.minMovementDegrees);
  const turn = { yaw, pitch, moved, direction: moved ? imageAngle(-yaw, pitch) : 0 };
  const byMesh = (): Motion => ({
    evidence: "mesh",
    deep: meshResidual >= options.minResidual,
    residual: meshResidual,
    meshResidual,
    score: scoreOf(meshResidual, options.minResidual),
    ...turn,
  });
  const patches = trackedPatches(a, b, options);
  if (!patches) return byMesh();
  // `measured`: the same measure made on another thread (parallax-thread.ts).
  const pixels = measured ?? measurePixelParallax(...patches, options.parallax);
  if (!pixels.trackable) {
    if (options.untracked === "mesh") return { ...byMesh(), pixels };
    return {
      evidence: "untracked",
      deep: false,
      residual: 0,
      meshResidual,
      pixels,
      score: 0.001,
      ...turn,
    };
  }
  // The direction from the tracked nose: on synthetic head turns it was right in 76 of 76, the
  // mesh pose in 45 (it reads about half the turn, so small turns fall below its minimum).
  const { x, y } = pixels.noseShift;
  const nosed = directionOf(x, y, options.minNoseShift);
  return {
    evidence: "pixels",
    deep: pixels.residual >= options.minPixelResidual,
    residual: pixels.residual,
    meshResidual,
    pixels,
    score: scoreOf(pixels.residual, options.minPixelResidual),
    ...turn,
    moved: nosed,
    direction: nosed ? imageAngle(x, y) : 0,
  };
}

/** The patches {@link measureMotion} of `a` and `b` tracks pixels on; none: the mesh decides. */
function trackedPatches(
  a: FaceGeometry | undefined,
  b: FaceGeometry | undefined,
  options: MotionOptions,
): [FacePatch, FacePatch] | undefined {
  return options.evidence !== "mesh" && a?.patch && b?.patch ? [a.patch, b.patch] : undefined;
}

/**
 * The pixel parallax {@link measureMotion} of `a` and `b` would measure, measured by `measure`
 * (another thread), or undefined when it tracks no pixels (mesh evidence, a face without a patch).
 */
export async function measurePixelsWith(
  measure: PixelMeasure,
  a: FaceGeometry | undefined,
  b: FaceGeometry | undefined,
  options: MotionOptions,
  signal?: AbortSignal,
): Promise<PixelParallax | undefined> {
  const patches = trackedPatches(a, b, options);
  return patches ? measure(...patches, options.parallax, signal) : undefined;
}

/**
 * The subject's direction from the way the nose went in the image (x right, y down; the tracked
 * shift or the pose change), undefined below `min` on both axes: the nose moving to the image's
 * right is a turn to the subject's own left (unmirrored camera). Signs of human's pose angles
 * were checked on 38 fixture photos against the nose tip's place between the cheeks
 * (correlation -0.99) and between the eyes and the mouth (0.82).
 */
function directionOf(x: number, y: number, min: number): Direction | undefined {
  if (Math.max(Math.abs(x), Math.abs(y)) < min) return undefined;
  if (Math.abs(x) >= Math.abs(y)) return x > 0 ? "left" : "right";
  return y > 0 ? "down" : "up";
}

/** The nose's way in the image as an angle, counter-clockwise from the image's right. */
function imageAngle(x: number, y: number): number {
  const degrees = (Math.atan2(-y, x) * 180) / Math.PI;
  return degrees <= 0 ? degrees + 360 : degrees;
}

/** Motion liveness in ]0,1]: 0.5 at the bar, toward 1 for residuals far above it. */
function scoreOf(residual: number, bar: number): number {
  return Math.min(1, Math.max(0.001, residual / (residual + bar)));
}

/** Pixel parallax measured off the calling thread (parallax-thread.ts). */
export type PixelMeasure = (
  a: FacePatch,
  b: FacePatch,
  options: ParallaxOptions,
  signal?: AbortSignal,
) => Promise<PixelParallax>;

/**
 * Fills `motionLivenessScore` and `movementDirection` of the primary face of every image whose
 * previous image in the call shows the same person (features within the encoder's threshold):
 * the motion from that previous image. Other faces keep them unset (0 on the wire). `measure`
 * tracks the pixels on another thread; without it they are tracked here.
 */
export async function annotateMotion(
  analyses: readonly ImageAnalysis[],
  options: MotionOptions = MOTION_DEFAULTS,
  measure?: PixelMeasure,
  signal?: AbortSignal,
): Promise<void> {
  for (let i = 1; i < analyses.length; i++) {
    const [a, b] = [analyses[i - 1], analyses[i]];
    const face = b?.properties.faces[0];
    if (!a?.geometry || !b?.geometry || !a.features || !b.features || !face) continue;
    if (a.features.encoderVersion !== b.features.encoderVersion) continue;
    const encoder = getEncoder(a.features.encoderVersion);
    if (encoder.distance(a.features.vector, b.features.vector) > encoder.threshold) continue;
    const pixels = measure
      ? await measurePixelsWith(measure, a.geometry, b.geometry, options, signal)
      : undefined;
    const motion = measureMotion(a.geometry, b.geometry, options, pixels);
    face.motionLivenessScore = motion.score;
    face.movementDirection = motion.direction;
  }
}
