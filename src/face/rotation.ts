import type { DetectedFace } from "./detect.js";
import type { EngineImage, FaceEngine } from "./engine.js";
import type { Point } from "./types.js";

export type Rotation = 0 | 90 | 180 | 270;

/** How the rotation stage decides which way is up (numbers in src/face/README.md). */
export interface RotationOptions {
  /**
   * The upside-down probe runs only when the best face found as is scores below this. Default
   * 0.9: on the 3,811 LFW images, skipping the probe above 0.9 changed no decision and spares it
   * for half of the upright photos.
   */
  probeBelow: number;
  /**
   * The image is turned 180 degrees when the detector scores it that way at least this much
   * higher than as is. Default 0.08: 0.13% of upright LFW images turned wrongly and 2.6% of
   * upside-down ones missed (margin 0.05: 0.29% and 1.3%; 0.1: 0.05% and 4.0%); upright photos
   * are the common case, so wrong turns weigh more.
   */
  flipMargin: number;
  /**
   * When the face is tilted (mesh roll) more than this many degrees, both quarter turns are tried
   * and the best-scoring one with a more level face is kept. Default 20: upright LFW faces roll
   * at most 12.4 degrees at the 99th percentile; sideways faces the detector fitted at a slant
   * rolled 31 to 46.
   */
  levelAbove: number;
}

/** Defaults of {@link RotationOptions}, measured on LFW (src/face/README.md). */
export const ROTATION_DEFAULTS: RotationOptions = {
  probeBelow: 0.9,
  flipMargin: 0.08,
  levelAbove: 20,
};

/** The faces of an image turned upright. */
export interface UprightFaces {
  /** Clockwise degrees the image was turned. */
  rotated: Rotation;
  /** The turned image; the caller disposes it unless it is the input. */
  image: EngineImage;
  faces: DetectedFace[];
}

/**
 * Finds the faces and the clockwise turn that makes them upright, in up to four steps:
 * 1. detect as is (the detector's own rotation correction finds faces turned by up to ~90°);
 * 2. when the best face scores below `probeBelow`, score the image upside down and turn it if
 *    that scores `flipMargin` higher: the detector fits an upside-down face as upright, lower;
 * 3. when no face was found either way up, try both quarter turns;
 * 4. when the face is tilted more than `levelAbove`, try the quarter turns and keep the
 *    best-scoring one whose face comes out more level.
 * Faces are always detected again on the turned image, so all features come from the upright
 * face. An upright photo with a confident face costs one detection.
 */
export async function findUprightFaces(
  engine: FaceEngine,
  input: EngineImage,
  detect: (image: EngineImage) => Promise<DetectedFace[]>,
  options: RotationOptions,
): Promise<UprightFaces> {
  let current: UprightFaces = { rotated: 0, image: input, faces: await detect(input) };
  /** Detects on the input turned clockwise to `to`; the caller adopts or discards the result. */
  const detectTurned = async (to: Rotation, turned?: EngineImage): Promise<UprightFaces> => {
    const image = turned ?? (to === 0 ? input : engine.turn(input, to));
    return { rotated: to, image, faces: await detect(image) };
  };
  const discard = (candidate: UprightFaces): void => {
    if (candidate.image !== input) candidate.image.dispose();
  };
  const adopt = (candidate: UprightFaces): void => {
    discard(current);
    current = candidate;
  };
  /** The best-scoring of the turns that find faces and pass `accept`; the others are disposed. */
  const bestCandidate = async (
    turns: Rotation[],
    accept: (candidate: UprightFaces) => boolean,
  ): Promise<UprightFaces | undefined> => {
    let best: UprightFaces | undefined;
    for (const to of turns) {
      const candidate = await detectTurned(to);
      const better =
        candidate.faces.length > 0 &&
        accept(candidate) &&
        (!best || bestScore(candidate.faces) > bestScore(best.faces));
      if (better) {
        if (best) discard(best);
        best = candidate;
      } else {
        discard(candidate);
      }
    }
    return best;
  };

  // Upside down: the detector fits such a face as upright with a lower score.
  const score = bestScore(current.faces);
  if (score < options.probeBelow) {
    const flipped = engine.turn(input, 180);
    if ((await engine.detectorScore(flipped)) > score + options.flipMargin) {
      const candidate = await detectTurned(180, flipped);
      if (candidate.faces.length > 0) adopt(candidate);
      else discard(candidate);
    } else {
      flipped.dispose();
    }
  }

  // Nothing either way up: the detector may still find a face lying on its side. Of the two
  // quarter turns, one shows the face upright, the other upside down with a lower score.
  if (current.faces.length === 0) {
    const found = await bestCandidate([90, 270], () => true);
    if (found) adopt(found);
    return current;
  }

  // On its side: such a face is found tilted near 90 degrees, or fitted at a slant (31 to 46
  // degrees seen). Of the quarter turns whose face comes out more level, the best-scoring wins;
  // again the upside-down one scores lower.
  const tilt = Math.abs(tiltOf(current.faces));
  if (tilt > options.levelAbove) {
    const found = await bestCandidate(
      [90, 270].map((turn) => ((current.rotated + turn) % 360) as Rotation),
      (candidate) => Math.abs(tiltOf(candidate.faces)) < tilt,
    );
    if (found) adopt(found);
  }
  return current;
}

/**
 * Tilt of the primary face in degrees, 0 = upright, positive = turned clockwise: the mesh's roll
 * (fitted to all 468 points). The pupils' line wanders with the gaze: a portrait of a man looking
 * aside read -31 degrees from the pupils, -14 from the mesh.
 */
function tiltOf(faces: DetectedFace[]): number {
  return faces[0]?.pose.roll ?? 0;
}

function bestScore(faces: DetectedFace[]): number {
  return faces.reduce((best, f) => Math.max(best, f.confidence), 0);
}

/**
 * Maps a point of the image turned clockwise by `rotated` back to the image before the turn.
 * `width` and `height` are those of the image before the turn.
 */
export function unturnPoint(p: Point, rotated: Rotation, width: number, height: number): Point {
  switch (rotated) {
    case 0:
      return p;
    case 90:
      return { x: p.y, y: height - p.x };
    case 180:
      return { x: width - p.x, y: height - p.y };
    case 270:
      return { x: width - p.y, y: p.x };
  }
}
