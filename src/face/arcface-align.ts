import { type Affine, warpAffine } from "./align.js";
import type { AlignmentPoints } from "./eyes.js";
import type { Point, RgbImage } from "./types.js";

/** Side of the ArcFace-style crop, pixels. */
export const ARCFACE_CROP_SIZE = 112;

/**
 * The standard ArcFace 112x112 reference points (insightface's `arcface_dst`), in pixel-index
 * coordinates (pixel centres at integers): the eye on the image's left, the eye on its right, the
 * nose tip, the mouth corner on the image's left, the one on its right.
 */
export const ARCFACE_TEMPLATE: readonly Point[] = [
  { x: 38.2946, y: 51.6963 },
  { x: 73.5318, y: 51.5014 },
  { x: 56.0252, y: 71.7366 },
  { x: 41.5493, y: 92.3655 },
  { x: 70.7299, y: 92.2041 },
];

/** Face-mesh indices (MediaPipe's 468-point topology, as human reports it). */
const MESH_NOSE_TIP = 1;
/** The subject's right mouth corner: on the image's left in an upright photo. */
const MESH_MOUTH_IMAGE_LEFT = 61;
const MESH_MOUTH_IMAGE_RIGHT = 291;

/** Which eye points the ArcFace template's eyes are fitted to. */
export type ArcFaceEyes = "contour" | "pupils";

/**
 * The five points the ArcFace template is fitted to, in the template's order, in the pixels of
 * the image the detector saw: the eye centres, the nose tip and the mouth corners from the mesh.
 * `eyes` picks the eye centres: `contour` (default, encoder 3) the mean of each eye's contour,
 * `pupils` (encoder 4) the iris model's pupil centres.
 */
export function arcFacePoints(
  face: {
    landmarks: { leftEye: Point; rightEye: Point; alignment: AlignmentPoints };
    mesh: readonly Point[];
  },
  eyes: ArcFaceEyes = "contour",
): Point[] {
  const { alignment } = face.landmarks;
  const eye = eyes === "pupils" ? face.landmarks : alignment;
  const mesh = (i: number): Point => face.mesh[i] ?? alignment.mouth;
  return [
    eye.rightEye, // the subject's right eye is on the image's left
    eye.leftEye,
    mesh(MESH_NOSE_TIP),
    mesh(MESH_MOUTH_IMAGE_LEFT),
    mesh(MESH_MOUTH_IMAGE_RIGHT),
  ];
}

/**
 * Least-squares similarity (rotation, uniform scale, translation; no reflection) taking `from`
 * onto `to` (Umeyama's closed form in two dimensions): `to ≈ [a -b; b a] · from + t`.
 */
export function fitSimilarity(
  from: readonly Point[],
  to: readonly Point[],
): { a: number; b: number; tx: number; ty: number } {
  const n = Math.min(from.length, to.length);
  let fx = 0;
  let fy = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < n; i++) {
    fx += (from[i] as Point).x;
    fy += (from[i] as Point).y;
    tx += (to[i] as Point).x;
    ty += (to[i] as Point).y;
  }
  fx /= n;
  fy /= n;
  tx /= n;
  ty /= n;
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const px = (from[i] as Point).x - fx;
    const py = (from[i] as Point).y - fy;
    const qx = (to[i] as Point).x - tx;
    const qy = (to[i] as Point).y - ty;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  const a = norm === 0 ? 1 : dot / norm;
  const b = norm === 0 ? 0 : cross / norm;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

/**
 * The ArcFace-style 112x112 RGB crop of a face whose five points (template order, in `source`'s
 * pixel-index coordinates) are `points`: the similarity that best fits them onto
 * {@link ARCFACE_TEMPLATE}, rendered with the same bilinear, anti-aliased warp as the other crops
 * (pixels outside the source are black).
 */
export function arcFaceCrop(source: RgbImage, points: readonly Point[]): RgbImage {
  return warpAffine(source, arcFaceMap(points), ARCFACE_CROP_SIZE, ARCFACE_CROP_SIZE);
}

/**
 * The map from the crop's pixels to the source's for the five `points` (template order, source
 * pixel-index coordinates): the template fitted onto the points, so the warp reads the source.
 */
export function arcFaceMap(points: readonly Point[]): Affine {
  const s = fitSimilarity(ARCFACE_TEMPLATE, points);
  // warpAffine's coordinates put pixel centres at half-integers; both point sets use integers.
  return {
    a: s.a,
    b: -s.b,
    c: s.tx + 0.5 - 0.5 * (s.a - s.b),
    d: s.b,
    e: s.a,
    f: s.ty + 0.5 - 0.5 * (s.b + s.a),
  };
}

/** The crop mirrored left to right (for flip averaging). */
export function mirrorImage(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const o = (y * width + (width - 1 - x)) * 3;
      out[o] = data[s] as number;
      out[o + 1] = data[s + 1] as number;
      out[o + 2] = data[s + 2] as number;
    }
  }
  return { data: out, width, height };
}
