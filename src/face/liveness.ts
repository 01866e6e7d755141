import { type Direction, type Motion, type MotionOptions, measureMotion } from "./motion.js";
import type { PixelParallax } from "./pixel-parallax.js";
import type { ImageAnalysis } from "./types.js";

/** Settings of passive (texture) liveness. */
export interface PassiveOptions {
  /**
   * Texture liveness score in ]0,1] at and above which one image's face counts as live. Chosen
   * with `npm run eval:liveness` (see README): a trade between genuine photos refused and
   * recaptured photos accepted, not a protection on its own.
   */
  minScore: number;
}

export const PASSIVE_DEFAULTS: PassiveOptions = { minScore: 0.2 };

/**
 * Texture liveness evidence for one face, in ]0,1], 0 when neither model produced a score: the
 * mean of human's antispoof `real` and liveness `live` scores over those present, floored at
 * 0.001 so that a computed score is never 0.
 *
 * Weak evidence (18% of genuine photos scored `real` below 0.5 and simple fakes did not move it):
 * passive liveness compares it with a low bar ({@link PASSIVE_DEFAULTS}).
 */
export function textureLivenessScore(real: number, live: number): number {
  const scores = [real, live].filter((s) => s > 0);
  if (scores.length === 0) return 0;
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  return Math.min(1, Math.max(0.001, mean));
}

/** Why a liveness check refused, with the vendor's error code. */
export interface LivenessRejection {
  code:
    | "RejectedByPassiveLiveDetection"
    | "RejectedByActiveLiveDetection"
    | "RejectedByChallengeResponse"
    | "NoFaceFound"
    | "MultipleFacesFound"
    | "LiveImagesOfDifferentPersons";
  message: string;
}

/** The outcome of a liveness check over one call's live images. */
export interface LivenessVerdict {
  live: boolean;
  /** The lowest score of the modes that ran, in [0,1]; 0 when a face was missing. */
  score: number;
  rejections: LivenessRejection[];
  /** The motion between the two images, when there were two faces to compare. */
  motion?: Motion;
}

/** Every setting of the liveness check. */
export interface LivenessOptions {
  passive: PassiveOptions;
  motion: MotionOptions;
  /** Largest feature distance at which the two live images count as one person. */
  samePersonMaxDistance: number;
  /** Feature distance of the encoder the analyses used. */
  distance(a: Float32Array, b: Float32Array): number;
}

/**
 * Passive liveness on each image (texture), active liveness on two (depth parallax of the mesh,
 * the two faces of one person), challenge-response when `challenge` names the direction the head
 * had to turn between them. Fills the second image's motion fields. `field` names the images in
 * messages (e.g. `liveImages`). `pixels`: the two images' pixel parallax when it was measured
 * on another thread (else it is measured here).
 */
export function assessLiveness(
  analyses: readonly ImageAnalysis[],
  options: LivenessOptions,
  challenge: Direction | undefined,
  field: string,
  pixels?: PixelParallax,
): LivenessVerdict {
  const rejections: LivenessRejection[] = [];
  const scores: number[] = [];
  analyses.forEach((a, i) => {
    const faces = a.properties.faces.length;
    if (!a.geometry || faces === 0) {
      if (!a.error) {
        rejections.push({ code: "NoFaceFound", message: `${field}[${i}]: no face found` });
      }
      return;
    }
    const single = a.properties.qualityAssessments.some(
      (q) => q.check === "SingleFaceOnImage" && q.score > 0,
    );
    if (!single) {
      rejections.push({
        code: "MultipleFacesFound",
        message: `${field}[${i}]: ${faces} faces and none clearly dominates; liveness needs one person`,
      });
      return;
    }
    const texture = a.properties.faces[0]?.textureLivenessScore ?? 0;
    scores.push(texture);
    if (texture < options.passive.minScore) {
      rejections.push({
        code: "RejectedByPassiveLiveDetection",
        message: `${field}[${i}]: the face's texture looks like a photo of a photo or a screen (score ${texture.toFixed(3)} below ${options.passive.minScore})`,
      });
    }
  });
  const verdict: LivenessVerdict = { live: false, score: 0, rejections };
  const [first, second] = analyses;
  if (analyses.length === 2 && first?.geometry && second?.geometry && scores.length === 2) {
    const motion = measureMotion(first.geometry, second.geometry, options.motion, pixels);
    verdict.motion = motion;
    const face = second.properties.faces[0];
    if (face) {
      face.motionLivenessScore = motion.score;
      face.movementDirection = motion.direction;
    }
    scores.push(motion.score);
    if (
      first.features &&
      second.features &&
      options.distance(first.features.vector, second.features.vector) >
        options.samePersonMaxDistance
    ) {
      rejections.push({
        code: "LiveImagesOfDifferentPersons",
        message: `${field}[0] and ${field}[1] do not show the same person`,
      });
    }
    if (!motion.deep) {
      rejections.push({
        code: "RejectedByActiveLiveDetection",
        message: rejectionOf(motion, options.motion, `${field}[0]`, `${field}[1]`),
      });
    }
    if (challenge && motion.moved !== challenge) {
      rejections.push({
        code: "RejectedByChallengeResponse",
        message: motion.moved
          ? `the head was asked to turn ${challenge} but turned ${motion.moved} (yaw ${motion.yaw.toFixed(1)}, pitch ${motion.pitch.toFixed(1)} degrees)`
          : `the head was asked to turn ${challenge} but did not turn (${stillness(motion, options.motion)})`,
      });
    }
  }
  const complete = scores.length === (analyses.length === 2 ? 3 : 1);
  verdict.score = complete ? Math.min(...scores) : 0;
  verdict.live = complete && rejections.length === 0 && !analyses.some((a) => a.error);
  return verdict;
}

/** Why the motion between `first` and `second` showed no depth, for the rejection's message. */
function rejectionOf(
  motion: Motion,
  options: MotionOptions,
  first: string,
  second: string,
): string {
  if (motion.evidence === "untracked") {
    const p = motion.pixels;
    return `the face's pixels could not be followed from ${first} to ${second} (${p?.tracked ?? 0} of ${p?.candidates ?? 0} points tracked): they look like two different pictures, not one face moving`;
  }
  const bar = motion.evidence === "pixels" ? options.minPixelResidual : options.minResidual;
  if (!motion.moved) {
    return `the head did not turn between ${first} and ${second} (${stillness(motion, options)}), so no depth could be seen`;
  }
  return `the face moved like a flat picture between ${first} and ${second} (no depth parallax: ${motion.evidence} residual ${motion.residual.toFixed(4)} of the eye distance, below ${bar})`;
}

/** What "did not turn" was measured by, for messages. */
function stillness(motion: Motion, options: MotionOptions): string {
  return motion.evidence === "pixels"
    ? `the nose moved less than ${options.minNoseShift} of the eye distance against the face`
    : `less than ${options.minMovementDegrees} degrees`;
}
