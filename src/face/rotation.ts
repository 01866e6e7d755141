import type { DetectedFace } from "./detect.js";
import type { EngineImage, FaceEngine } from "./engine.js";
import { eyeLineAngle } from "./eyes.js";
import type { Point } from "./types.js";

export type Rotation = 0 | 90 | 180 | 270;

/** How the rotation stage decides which way is up (numbers in src/face/README.md). */
export interface RotationOptions {
  /**
   * The upside-down probe runs only when the best face found as is scores below this. Default
   * 0.9: of 800 LFW faces turned 180 degrees, one scored 0.9 or more as is.
   */
  probeBelow: number;
  /**
   * The image is turned 180 degrees when the detector scores it that way at least this much
   * higher than as is. Default 0.05: 1 of 800 upright LFW faces turned wrongly, 23 of 800
   * upside-down ones missed (margin 0: 7 and 9).
   */
  flipMargin: number;
  /** The image is turned by 90 degrees when the eye line is tilted more than this. Default 45. */
  turnAboveDegrees: number;
}

/** The faces of an image turned upright. */
export interface UprightFaces {
  /** Clockwise degrees the image was turned. */
  rotated: Rotation;
  /** The turned image; the caller disposes it unless it is the input. */
  image: EngineImage;
  faces: DetectedFace[];
}

const DEGREES = 180 / Math.PI;

/**
 * Finds the faces and the turn that makes them upright. The detector with its own rotation
 * correction finds faces turned by up to about 90 degrees, and the eye line then says which way
 * to turn; an upside-down face, however, it fits as upright with a lower score, so the image
 * turned 180 degrees is scored too unless the face found as is scores high. Faces are detected
 * again on the turned image, so that all features come from the upright face.
 */
export async function findUprightFaces(
  engine: FaceEngine,
  input: EngineImage,
  detect: (image: EngineImage) => Promise<DetectedFace[]>,
  options: RotationOptions,
): Promise<UprightFaces> {
  let image = input;
  let rotated: Rotation = 0;
  let faces = await detect(image);
  /** Detects on the input turned to `to`; adopts the result when it has faces. */
  const tryRotation = async (to: Rotation, turned?: EngineImage): Promise<boolean> => {
    const next = turned ?? (to === 0 ? input : engine.turn(input, to));
    const found = await detect(next);
    if (found.length === 0) {
      if (next !== input) next.dispose();
      return false;
    }
    if (image !== input) image.dispose();
    image = next;
    rotated = to;
    faces = found;
    return true;
  };

  const score = bestScore(faces);
  if (score < options.probeBelow) {
    const flipped = engine.turn(input, 180);
    if ((await engine.detectorScore(flipped)) > score + options.flipMargin) {
      await tryRotation(180, flipped);
    } else {
      flipped.dispose();
    }
  }
  if (faces.length === 0) {
    // Nothing either way up: the detector may still find a face lying on its side.
    if (!(await tryRotation(90))) await tryRotation(270);
    return { rotated, image, faces };
  }
  const tilt = eyeLineAngle((faces[0] as DetectedFace).landmarks) * DEGREES;
  if (Math.abs(tilt) > options.turnAboveDegrees) {
    // Turning clockwise by -tilt, rounded to a quarter turn, levels the eyes.
    const turn = Math.round(-tilt / 90) * 90;
    const to = ((((rotated + turn) % 360) + 360) % 360) as Rotation;
    if (to !== rotated) await tryRotation(to);
  }
  return { rotated, image, faces };
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
