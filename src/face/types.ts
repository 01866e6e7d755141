/**
 * Plain types of the face pipeline: what the rest of the service sees. No generated code here;
 * the RPC layer maps these onto the wire messages.
 */

/** A position in pixels of the input image, after EXIF orientation and after `rotated`. */
export interface Point {
  x: number;
  y: number;
}

/** An axis-aligned box in pixels, same frame as {@link Point}. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One detected face. */
export interface FaceResult {
  /** Centre of the subject's left eye (on the image's right side), as the contract defines it. */
  leftEye: Point;
  /** Centre of the subject's right eye (on the image's left side). */
  rightEye: Point;
  /**
   * Texture liveness evidence in ]0,1] from human's antispoof and liveness models; 0 = not
   * computed. Unvalidated: reported, never used to reject.
   */
  textureLivenessScore: number;
  /**
   * Motion liveness in ]0,1] against the call's previous image of the same person, and the head
   * turn's direction in degrees (see motion.ts); absent when not computed.
   */
  motionLivenessScore?: number;
  movementDirection?: number;
  /** The face box. */
  box: Box;
  /** Detector confidence in [0,1]. */
  confidence: number;
}

/** One quality check: `score` in [0,1], higher is better. */
export interface QualityCheck {
  check: string;
  score: number;
  message: string;
}

/** The contract's ImageProperties, without frame_number (always 0 for still images). */
export interface ImageProperties {
  /**
   * Clockwise degrees by which the input (after EXIF orientation) was turned so that the faces
   * are upright; all coordinates refer to the image so turned.
   */
  rotated: 0 | 90 | 180 | 270;
  faces: FaceResult[];
  /** Summary of the measured checks in [0,1]; see src/face/README.md. */
  qualityScore: number;
  qualityAssessments: QualityCheck[];
}

/** Error codes of an image that could not be analysed at all. */
export type ImageErrorCode = "InvalidImage" | "UnsupportedImageFormat" | "ImageTooLarge";

/** The analysis of one input image. */
export interface ImageAnalysis {
  properties: ImageProperties;
  /** Set when the image could not be used at all; the message names no bytes. */
  error?: { code: ImageErrorCode; message: string };
  /**
   * Features of the primary face (the first of `properties.faces`), present only when it is the
   * only face or clearly dominates the others, and is suitable.
   */
  features?: { encoderVersion: number; vector: Float32Array };
  /** PNG thumbnail of that face; present when features are and thumbnails were requested. */
  thumbnail?: Uint8Array;
  /**
   * Geometry of the primary face for motion liveness (comparing two images of one call); never
   * sent to clients. Present whenever a primary face was found.
   */
  geometry?: FaceGeometry;
}

/** Where the primary face's mesh lies and how the head is turned, for motion liveness. */
export interface FaceGeometry {
  /** The 468 face mesh points as x0, y0, x1, y1, ... in input pixels (as the eyes). */
  mesh: Float32Array;
  /** Head pose in degrees from the mesh: yaw (turn), pitch (nod), roll (tilt). */
  pose: { yaw: number; pitch: number; roll: number };
  /** Distance between the eye centres in input pixels: the face's scale. */
  eyeDistance: number;
  /**
   * The face as a grey patch at a fixed scale, for pixel motion (face-patch.ts); absent where
   * geometry was built without pixels (tests of the mesh path).
   */
  patch?: FacePatch;
}

/** A grey square of the face at a fixed analysis scale (face-patch.ts). */
export interface FacePatch {
  /** Grey values 0-255, row-major, `size` x `size`. */
  pixels: Uint8Array;
  /** Side in pixels. */
  size: number;
  /** The 468 mesh points in the patch, x0, y0, ..., pixel-index coordinates (centres at 0). */
  mesh: Float32Array;
  /** Distance between the eye centres in patch pixels. */
  eyeDistance: number;
}

/** Decoded RGB pixels, row-major, 3 bytes per pixel. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}
