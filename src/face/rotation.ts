import type { DetectedFace } from "./detect.js";
import type { EngineImage, FaceEngine, Turn } from "./engine.js";
import type { Point, RgbImage } from "./types.js";

/** Clockwise degrees; the same quarter turns the engine uploads with. */
export type Rotation = Turn;

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
  /** Faces in the pixels of the turned image, largest first. */
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
  image: RgbImage,
  detect: (image: EngineImage) => Promise<DetectedFace[]>,
  options: RotationOptions,
): Promise<UprightFaces> {
  /** Detects on the image turned clockwise by `to`. */
  const detectTurned = async (to: Rotation): Promise<UprightFaces> => {
    const uploaded = engine.upload(image, to);
    try {
      return { rotated: to, faces: await detect(uploaded) };
    } finally {
      uploaded.dispose();
    }
  };
  /** The best-scoring of the turns that find faces and pass `accept`. */
  const bestCandidate = async (
    turns: Rotation[],
    accept: (candidate: UprightFaces) => boolean,
  ): Promise<UprightFaces | undefined> => {
    let best: UprightFaces | undefined;
    for (const to of turns) {
      const candidate = await detectTurned(to);
      if (
        candidate.faces.length > 0 &&
        accept(candidate) &&
        (!best || bestScore(candidate.faces) > bestScore(best.faces))
      ) {
        best = candidate;
      }
    }
    return best;
  };

  let current = await detectTurned(0);

  // Upside down: the detector fits such a face as upright with a lower score.
  const score = bestScore(current.faces);
  if (score < options.probeBelow) {
    if ((await engine.detectorScore(image, 180)) > score + options.flipMargin) {
      const candidate = await detectTurned(180);
      if (candidate.faces.length > 0) current = candidate;
    }
  }

  // Nothing either way up: the detector may still find a face lying on its side. Of the two
  // quarter turns, one shows the face upright, the other upside down with a lower score.
  if (current.faces.length === 0) {
    return (await bestCandidate([90, 270], () => true)) ?? current;
  }

  // On its side: such a face is found tilted near 90 degrees, or fitted at a slant (31 to 46
  // degrees seen). Of the quarter turns whose face comes out more level, the best-scoring wins;
  // again the upside-down one scores lower.
  const tilt = Math.abs(tiltOf(current.faces));
  if (tilt > options.levelAbove) {
    const from = current.rotated;
    const found = await bestCandidate(
      [90, 270].map((turn) => ((from + turn) % 360) as Rotation),
      (candidate) => Math.abs(tiltOf(candidate.faces)) < tilt,
    );
    if (found) current = found;
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
