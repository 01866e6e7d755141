import { type Affine, applyAffine, frameToAffine, moveFrame, warpAffine } from "./align.js";
import type { FacePatch, Point, RgbImage } from "./types.js";

/**
 * Side of the grey face patch that pixel motion is measured on, in pixels. At 160 the face's
 * eyes are about 45 px apart: a head turn of 10 degrees moves the nose tip some 4 px against the
 * cheeks, well above the tracker's ~0.1 px noise, while a patch costs 25 kB and a tracking run
 * stays in the tens of milliseconds.
 */
export const PATCH_SIZE = 160;

/**
 * Share of the patch's side taken by the larger side of the face mesh's bounding box; the rest
 * is margin so that points near the face's edge (cheeks, jaw) keep their tracking window inside.
 */
export const PATCH_FACE_SHARE = 0.8;

/**
 * The face as a grey square at a fixed analysis scale: the mesh's bounding box centred, its
 * larger side {@link PATCH_FACE_SHARE} of {@link PATCH_SIZE}, turned so the eyes are level, read
 * from the decoded pixels. Two patches of one face then differ only by the motion the face made
 * (plus what a similarity transform adds, which keeps a planar motion planar), so the tracker
 * starts close to the answer. `mesh` and `eyes` are in upright detector pixels; `toSource` maps
 * them onto `image`, which is `rotated` degrees (clockwise) from upright.
 */
export function cutFacePatch(
  image: RgbImage,
  mesh: readonly Point[],
  eyes: { leftEye: Point; rightEye: Point },
  toSource: (p: Point) => Point,
  rotated: number,
): FacePatch {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const p of mesh) {
    x0 = Math.min(x0, p.x);
    y0 = Math.min(y0, p.y);
    x1 = Math.max(x1, p.x);
    y1 = Math.max(y1, p.y);
  }
  const { leftEye, rightEye } = eyes;
  const upright = {
    center: { x: (x0 + x1) / 2, y: (y0 + y1) / 2 },
    size: Math.max(x1 - x0, y1 - y0, 1) / PATCH_FACE_SHARE,
    angle: Math.atan2(leftEye.y - rightEye.y, leftEye.x - rightEye.x),
    anchorX: 0.5,
    anchorY: 0.5,
  };
  const frame = moveFrame(upright, toSource, (-rotated * Math.PI) / 180);
  const map = frameToAffine(frame, PATCH_SIZE);
  const rgb = warpAffine(image, map, PATCH_SIZE, PATCH_SIZE);
  const pixels = new Uint8Array(PATCH_SIZE * PATCH_SIZE);
  for (let i = 0; i < pixels.length; i++) {
    pixels[i] = Math.round(
      0.299 * (rgb.data[3 * i] as number) +
        0.587 * (rgb.data[3 * i + 1] as number) +
        0.114 * (rgb.data[3 * i + 2] as number),
    );
  }
  const inverse = invert(map);
  // Pixel-index coordinates (pixel centres at integers), as the tracker reads the patch.
  const toPatch = (p: Point): Point => {
    const q = applyAffine(inverse, toSource(p));
    return { x: q.x - 0.5, y: q.y - 0.5 };
  };
  const points = new Float32Array(mesh.length * 2);
  mesh.forEach((p, i) => {
    const q = toPatch(p);
    points[2 * i] = q.x;
    points[2 * i + 1] = q.y;
  });
  const [l, r] = [toPatch(leftEye), toPatch(rightEye)];
  return { pixels, size: PATCH_SIZE, mesh: points, eyeDistance: Math.hypot(l.x - r.x, l.y - r.y) };
}

function invert(m: Affine): Affine {
  const det = m.a * m.e - m.b * m.d;
  const a = m.e / det;
  const b = -m.b / det;
  const d = -m.d / det;
  const e = m.a / det;
  return { a, b, c: -(a * m.c + b * m.f), d, e, f: -(d * m.c + e * m.f) };
}
