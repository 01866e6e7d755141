import type { EngineImage, FaceEngine } from "./engine.js";
import { eyeDistance, type FaceLandmarks, locateLandmarks, type MeshAnnotations } from "./eyes.js";
import type { Box, Point } from "./types.js";

/** A face as the detector found it, in the pixels of the image it ran on. */
export interface DetectedFace {
  box: Box;
  /** Detector box score in [0,1]. */
  confidence: number;
  landmarks: FaceLandmarks;
  /** Inter-eye distance in pixels. */
  eyeDistance: number;
  /** The 468 mesh points plus 10 iris points; may extend past the image border. */
  mesh: Point[];
  /** Head pose in degrees from the mesh: yaw (turn), pitch (nod), roll (tilt). */
  pose: { yaw: number; pitch: number; roll: number };
  /** human's antispoof `real` and liveness `live` scores in [0,1]; 0 when not computed. */
  real: number;
  live: number;
  /** faceres 1024-D descriptor (encoder 1), when requested. */
  descriptor?: Float32Array;
}

/** What the detect stage accepts as a face. */
export interface DetectOptions {
  /**
   * Faces whose eyes are closer than this, in analysed pixels, are not faces. The pool's default
   * is 12: portraits scaled to 8 px between the eyes were still detected, but their descriptors
   * were noise (24% of genuine pairs accepted; 69% at 12 px).
   */
  minEyeDistance: number;
}

const DEGREES = 180 / Math.PI;

/**
 * Runs the detector, mesh, iris, antispoof and liveness (and faceres when `describe`) on one
 * upright candidate image and keeps the faces with a full mesh and eyes at least
 * `minEyeDistance` apart, largest first.
 */
export async function detectFaces(
  engine: FaceEngine,
  image: EngineImage,
  describe: boolean,
  options: DetectOptions,
): Promise<DetectedFace[]> {
  const results = await engine.detect(image, describe);
  const faces: DetectedFace[] = [];
  for (const r of results) {
    const landmarks = locateLandmarks(r.annotations as MeshAnnotations);
    if (!landmarks) continue;
    const distance = eyeDistance(landmarks);
    if (distance < options.minEyeDistance) continue;
    const angle = r.rotation?.angle;
    const face: DetectedFace = {
      box: { x: r.box[0], y: r.box[1], width: r.box[2], height: r.box[3] },
      confidence: r.boxScore,
      landmarks,
      eyeDistance: distance,
      mesh: r.mesh.map((p) => ({ x: p[0], y: p[1] })),
      pose: {
        yaw: (angle?.yaw ?? 0) * DEGREES,
        pitch: (angle?.pitch ?? 0) * DEGREES,
        roll: (angle?.roll ?? 0) * DEGREES,
      },
      real: r.real ?? 0,
      live: r.live ?? 0,
    };
    if (r.embedding && r.embedding.length > 0) face.descriptor = Float32Array.from(r.embedding);
    faces.push(face);
  }
  return faces.sort((a, b) => b.eyeDistance - a.eyeDistance);
}
