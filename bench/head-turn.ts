/**
 * A synthetic genuine pair for the liveness evaluation and tests: one photo, and the same photo
 * re-rendered as if the head had turned a few degrees. Our fixture photos are single shots, so
 * there is no real pair of frames of one head turning; this gives the tracker the depth parallax
 * of one (the nose moving against the cheeks) while the pixels stay those of one capture.
 *
 * Depth model: the face as half an ellipsoid (semi-axes from the mesh's bounding box, depth
 * `ROUNDNESS` of the half width) plus a nose bump at the mesh's nose tip, turned about the
 * face's centre (orthographic). The background stays put, as a room behind a turning head does.
 * It is a crude head: it shows whether pixel parallax is measured at all and how large it is for
 * a given turn, not how real captures score (lighting, occlusion and expression do not change).
 * Deterministic for a given seed.
 */
import sharp from "sharp";
import type { FaceGeometry, Point } from "../src/face/types.js";
import { mulberry32 } from "../test/support/search-reference.js";
import { sampleBilinear } from "./liveness-attacks.js";

export type TurnDirection = "up" | "down" | "left" | "right";

/** Depth of the face's ellipsoid as a share of its half width (a head is about as deep as wide). */
const ROUNDNESS = 0.8;
/** Height of the nose bump over the ellipsoid, and its spread, as shares of the half width. */
const NOSE_HEIGHT = 0.25;
const NOSE_SPREAD = 0.18;

/** Where the face is in the photo, in its pixels: an ellipse and the nose tip. */
export interface FaceOutline {
  center: Point;
  halfWidth: number;
  halfHeight: number;
  nose: Point;
}

/** The outline of a face from its mesh: the mesh's bounding box and its nose tip (point 1). */
export function outlineOfMesh(g: FaceGeometry): FaceOutline {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < g.mesh.length; i += 2) {
    x0 = Math.min(x0, g.mesh[i] as number);
    x1 = Math.max(x1, g.mesh[i] as number);
    y0 = Math.min(y0, g.mesh[i + 1] as number);
    y1 = Math.max(y1, g.mesh[i + 1] as number);
  }
  return {
    center: { x: (x0 + x1) / 2, y: (y0 + y1) / 2 },
    halfWidth: (x1 - x0) / 2,
    halfHeight: (y1 - y0) / 2,
    nose: { x: g.mesh[2] as number, y: g.mesh[3] as number },
  };
}

/**
 * The outline of an upright face from its eyes alone (what a BWS answer reports): proportions
 * of an average face, in eye distances (centre 0.5 below the eyes, 1.0 half wide, 1.35 half
 * high, the nose tip 0.6 below the eyes), for tests that see only the answer.
 */
export function outlineOfEyes(leftEye: Point, rightEye: Point): FaceOutline {
  const eyes = Math.hypot(leftEye.x - rightEye.x, leftEye.y - rightEye.y);
  const mid = { x: (leftEye.x + rightEye.x) / 2, y: (leftEye.y + rightEye.y) / 2 };
  return {
    center: { x: mid.x, y: mid.y + 0.5 * eyes },
    halfWidth: eyes,
    halfHeight: 1.35 * eyes,
    nose: { x: mid.x, y: mid.y + 0.6 * eyes },
  };
}

interface Rgb {
  data: Buffer;
  width: number;
  height: number;
}

/**
 * `photo` (as analysed, so `face` is in its pixels) and a copy with the head turned
 * `degrees` toward `direction` in the subject's own frame (left = the subject's own left, the
 * nose toward the image's right), both as JPEG (quality 92). The second shot also moves the whole
 * image by up to 2% and rescales it by up to 3%, as a hand-held phone does.
 */
export async function headTurnPair(
  photo: Uint8Array,
  face: FaceOutline,
  direction: TurnDirection,
  degrees: number,
  seed: number,
): Promise<[Buffer, Buffer]> {
  const random = mulberry32(seed);
  const { data, info } = await sharp(photo)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const src: Rgb = { data, width: info.width, height: info.height };
  const turned = turn(src, face, direction, (degrees * Math.PI) / 180, random);
  const first = await sharp(photo).jpeg({ quality: 92 }).toBuffer();
  const second = await sharp(turned.data, {
    raw: { width: turned.width, height: turned.height, channels: 3 },
  })
    .jpeg({ quality: 92 })
    .toBuffer();
  return [first, second];
}

function turn(
  src: Rgb,
  face: FaceOutline,
  direction: TurnDirection,
  angle: number,
  random: () => number,
): Rgb {
  const { width: w, height: h } = src;
  const { x: cx, y: cy } = face.center;
  const [ax, ay] = [face.halfWidth, face.halfHeight];
  const { x: nx, y: ny } = face.nose;
  const depth = (x: number, y: number): number => {
    const u = (x - cx) / ax;
    const v = (y - cy) / ay;
    const r = 1 - u * u - v * v;
    if (r <= 0) return Number.NaN;
    const d2 = ((x - nx) ** 2 + (y - ny) ** 2) / (NOSE_SPREAD * ax) ** 2;
    return ax * (ROUNDNESS * Math.sqrt(r) + NOSE_HEIGHT * Math.exp(-d2 / 2));
  };
  // Yaw: the subject's left turn brings the nose to the image's right (+x); pitch down: +y.
  const [sx, sy] = {
    left: [1, 0],
    right: [-1, 0],
    down: [0, 1],
    up: [0, -1],
  }[direction] as [number, number];
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  // Forward displacement of a face point; 0 off the face (the background does not turn).
  const moved = (x: number, y: number): [number, number] => {
    const z = depth(x, y);
    if (Number.isNaN(z)) return [0, 0];
    const dx = sx !== 0 ? cx + (x - cx) * c + sx * z * s - x : 0;
    const dy = sy !== 0 ? cy + (y - cy) * c + sy * z * s - y : 0;
    return [dx, dy];
  };
  // The hand-held camera: a small shift and zoom of the whole second shot.
  const k = 1 + (random() * 2 - 1) * 0.03;
  const [tx, ty] = [(random() * 2 - 1) * 0.02 * w, (random() * 2 - 1) * 0.02 * h];
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Undo the camera, then invert the turn by fixed-point iteration (p + d(p) = q).
      const qx = (x - tx - w / 2) / k + w / 2;
      const qy = (y - ty - h / 2) / k + h / 2;
      let [px, py] = [qx, qy];
      for (let it = 0; it < 12; it++) {
        const [dx, dy] = moved(px, py);
        px = qx - dx;
        py = qy - dy;
      }
      const fx = Math.min(w - 1.001, Math.max(0, px));
      const fy = Math.min(h - 1.001, Math.max(0, py));
      sampleBilinear(src, fx, fy, out, (y * w + x) * 3);
    }
  }
  return { data: out, width: w, height: h };
}
