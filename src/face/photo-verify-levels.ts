import { getEncoder } from "./encoders.js";

/** Encoder whose distances the levels were calibrated for; PhotoVerify always uses it. */
export const PHOTO_VERIFY_ENCODER = 3;

/**
 * PhotoVerify's accuracy levels: level k is reached when the distance between the ID photo and
 * every live image is below `maxDistance`, the distance of `far` false accepts over the
 * cross-identity pairs of LFW folds 1-5 (encoder 3, the labelled face). `impostorPairs` is how
 * many impostor pairs lay below it, i.e. what the level rests on. Levels 1, 2 and 5 come from
 * `bench/calibrate-photo-verify.ts <lfw-dev> 1 1300` (1,298 images, 841,447 impostor pairs);
 * levels 3 and 4 from the encoder's calibration over all 3,803 images (7,225,118 pairs,
 * src/face/README.md), which the 1,298 images reproduce (0.664 and 0.582).
 */
export const PHOTO_VERIFY_LEVELS: readonly {
  level: 1 | 2 | 3 | 4 | 5;
  far: number;
  maxDistance: number;
  impostorPairs: number;
}[] = [
  { level: 1, far: 0.005, maxDistance: 0.7281, impostorPairs: 4207 },
  { level: 2, far: 0.0025, maxDistance: 0.7, impostorPairs: 2103 },
  { level: 3, far: 0.001, maxDistance: 0.664, impostorPairs: 7225 },
  { level: 4, far: 0.0001, maxDistance: 0.587, impostorPairs: 722 },
  // Rests on 8 impostor pairs: an estimate, not a measured 0.001%.
  { level: 5, far: 0.00001, maxDistance: 0.5169, impostorPairs: 8 },
];

/** The highest level whose distance `distance` is below (0 = not recognised). */
export function photoVerifyLevel(distance: number): 0 | 1 | 2 | 3 | 4 | 5 {
  let reached: 0 | 1 | 2 | 3 | 4 | 5 = 0;
  for (const l of PHOTO_VERIFY_LEVELS) if (distance < l.maxDistance) reached = l.level;
  return reached;
}

/** Distance of two vectors of the PhotoVerify encoder, and its similarity score in ]0,1]. */
export function photoVerifyCompare(
  a: Float32Array,
  b: Float32Array,
): { distance: number; score: number } {
  const encoder = getEncoder(PHOTO_VERIFY_ENCODER);
  const distance = encoder.distance(a, b);
  return { distance, score: encoder.score(distance) };
}
