import { applyHomography, planarFit } from "./homography.js";
import {
  FEATURE_DEFAULTS,
  type FeatureOptions,
  type GreyImage,
  goodFeatures,
  TRACKING_DEFAULTS,
  type TrackingOptions,
  trackPoints,
} from "./point-tracking.js";
import type { FacePatch } from "./types.js";

/** Settings of pixel parallax. */
export interface ParallaxOptions {
  /**
   * Fewest points that must track between the two patches for the pixel residual to mean
   * anything; below it the pictures are too unlike (two different photos, a face swapped, a
   * large change of light) to be one face moving. Chosen with `npm run eval:liveness`.
   */
  minTracked: number;
  /**
   * Fewest tracked points as a share of the corners found; same reading as `minTracked`. In the
   * full `npm run eval:liveness` run two different photos of one person tracked at most 50% of
   * their corners (8 of 120 pairs reached 30 points), synthetic head turns at least 79%.
   */
  minTrackedShare: number;
  features: FeatureOptions;
  tracking: TrackingOptions;
}

export const PARALLAX_DEFAULTS: ParallaxOptions = {
  minTracked: 30,
  minTrackedShare: 0.6,
  features: FEATURE_DEFAULTS,
  tracking: TRACKING_DEFAULTS,
};

/** What following the face's pixels between two patches showed. */
export interface PixelParallax {
  /** Corners found on the first patch, inside the face mesh's outline. */
  candidates: number;
  /** Of those, the points tracked forward and back consistently. */
  tracked: number;
  /** Whether enough points tracked (`minTracked`, `minTrackedShare`) for `residual` to count. */
  trackable: boolean;
  /**
   * How far the face's pixels moved unlike a plane, over the first patch's eye distance: the
   * RMS over the tracked points of their neighbourhood's mean residual to the best homography
   * ({@link coherentResidual}); 0 when not `trackable`.
   */
  residual: number;
  /**
   * How the nose moved against the rest of the face, in the first patch's frame (eyes level, x
   * to the image's right, y down), over its eye distance: the mean planar-fit residual of the
   * tracked points near the nose tip minus that of all tracked points. A head turning to the
   * subject's left moves the nose toward the image's right (+x); nodding down moves it down
   * (+y). 0, 0 when not `trackable`.
   */
  noseShift: { x: number; y: number };
}

/**
 * Radius around the mesh's nose tip, as a share of the eye distance, within which tracked
 * points count as the nose for {@link PixelParallax.noseShift}: the nose's ridge and wings.
 */
export const NOSE_RADIUS = 0.5;

/**
 * Radius of the neighbourhood whose residuals {@link coherentResidual} averages, as a share of
 * the eye distance: about the nose's width. In `npm run eval:liveness` (76 photos, 2 pairs per
 * photo and mode) 0.45 separated the blurred and moiré'd planar attacks from the synthetic
 * head turns best of 0.2, 0.3 and 0.45 (largest attack 0.81 of the turns' 3rd percentile).
 */
export const NEIGHBOURHOOD_RADIUS = 0.45;

/**
 * Follows the face's own pixels from patch `a` to patch `b` and measures how far their motion is
 * from that of a plane. A photo or screen moved in front of the camera moves as a plane, so its
 * pixels fit a homography to within the tracker's noise; a real head turning does not (the nose
 * moves against the cheeks). The mesh alone cannot tell these apart: its model draws a 3D face
 * shape even on a tilted flat photo.
 */
export function measurePixelParallax(
  a: FacePatch,
  b: FacePatch,
  options: ParallaxOptions = PARALLAX_DEFAULTS,
): PixelParallax {
  const field = parallaxField(a, b, options);
  const { candidates, tracked } = field;
  if (!field.trackable) {
    return { candidates, tracked, trackable: false, residual: 0, noseShift: { x: 0, y: 0 } };
  }
  const { points, residuals } = field;
  // The nose against the face: residuals near the nose tip (mesh point 1) minus all residuals.
  const [nx, ny] = [a.mesh[2] as number, a.mesh[3] as number];
  const near = (NOSE_RADIUS * a.eyeDistance) ** 2;
  let [ax, ay, bx, by, nb] = [0, 0, 0, 0, 0];
  const kept = points.length / 2;
  for (let k = 0; k < kept; k++) {
    const [x, y] = [points[2 * k] as number, points[2 * k + 1] as number];
    const [rx, ry] = [residuals[2 * k] as number, residuals[2 * k + 1] as number];
    ax += rx;
    ay += ry;
    if ((x - nx) ** 2 + (y - ny) ** 2 <= near) {
      bx += rx;
      by += ry;
      nb++;
    }
  }
  const noseShift =
    nb > 0
      ? {
          x: (bx / nb - ax / kept) / a.eyeDistance,
          y: (by / nb - ay / kept) / a.eyeDistance,
        }
      : { x: 0, y: 0 };
  const residual = coherentResidual(points, residuals, NEIGHBOURHOOD_RADIUS * a.eyeDistance);
  return { candidates, tracked, trackable: true, residual: residual / a.eyeDistance, noseShift };
}

/**
 * The part of a residual field that neighbouring points share, in the residuals' unit: the RMS
 * over the points of the mean residual within `radius` of each, less what tracking noise alone
 * leaves in such a mean. A head's depth moves whole regions (the nose against the cheeks) the
 * same way; the errors a blurred or moiré'd photo gives the tracker differ from corner to
 * corner and average out. Noise: the pooled scatter of each residual about its neighbourhood's
 * mean, s² = mean |r_k - m_k|², which for independent errors of variance v is v (n-1)/n, so a
 * mean of n such errors keeps s² / (n - 1) of it.
 */
export function coherentResidual(
  points: Float32Array,
  residuals: Float32Array,
  radius: number,
): number {
  const n = points.length / 2;
  if (n === 0) return 0;
  const r2 = radius * radius;
  const means = new Float64Array(2 * n);
  const counts = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    const [x, y] = [points[2 * k] as number, points[2 * k + 1] as number];
    let [sx, sy, m] = [0, 0, 0];
    for (let j = 0; j < n; j++) {
      if (((points[2 * j] as number) - x) ** 2 + ((points[2 * j + 1] as number) - y) ** 2 > r2) {
        continue;
      }
      sx += residuals[2 * j] as number;
      sy += residuals[2 * j + 1] as number;
      m++;
    }
    means[2 * k] = sx / m;
    means[2 * k + 1] = sy / m;
    counts[k] = m;
  }
  let scatter = 0;
  for (let i = 0; i < 2 * n; i++) scatter += ((residuals[i] as number) - (means[i] as number)) ** 2;
  scatter /= n;
  let shared = 0;
  for (let k = 0; k < n; k++) {
    const m = counts[k] as number;
    const noise = m > 1 ? scatter / (m - 1) : 0;
    shared += (means[2 * k] as number) ** 2 + (means[2 * k + 1] as number) ** 2 - noise;
  }
  return Math.sqrt(Math.max(0, shared / n));
}

/** The tracked points of a pair and how far each is from the best planar motion. */
interface ParallaxField extends Pick<PixelParallax, "candidates" | "tracked" | "trackable"> {
  /** The tracked points in the first patch, x0, y0, ... (pixels); empty when not trackable. */
  points: Float32Array;
  /** Each point's landing place minus where the homography takes it, dx0, dy0, ... (pixels). */
  residuals: Float32Array;
}

/**
 * Tracks the face's corners from patch `a` to `b` twice (the second time onto `b` warped back
 * by the first homography) and returns every point's residual to the final homography.
 */
function parallaxField(
  a: FacePatch,
  b: FacePatch,
  options: ParallaxOptions = PARALLAX_DEFAULTS,
): ParallaxField {
  const from = greyPatch(a);
  const to = greyPatch(b);
  const hull = convexHull(a.mesh);
  const corners = goodFeatures(from, (x, y) => insideConvex(hull, x, y), options.features);
  const candidates = corners.length / 2;
  const { to: landed, ok, tracked } = trackPoints(from, to, corners, options.tracking);
  const trackable =
    tracked >= options.minTracked && tracked >= options.minTrackedShare * Math.max(1, candidates);
  const none: ParallaxField = {
    candidates,
    tracked,
    trackable: false,
    points: new Float32Array(0),
    residuals: new Float32Array(0),
  };
  if (!trackable || a.eyeDistance <= 0) return none;
  const first = planarFit(...keptPairs(corners, landed, ok));
  if (!first) return none;
  // Second pass: the second patch warped by that homography onto the first, tracked again. A
  // plane then lines up everywhere and its points stay put; a head keeps its parallax. Tracking
  // a pure shift leaves no room for the bias a translation-only tracker has under a projective
  // distortion (0.2 px on a synthetic tilted plane in the first pass alone), which is what the
  // residual would otherwise measure on a tilted photo.
  const aligned = warpHomography(to, first.h);
  const again = trackPoints(from, aligned, corners, options.tracking);
  for (let i = 0; i < ok.length; i++) if (!ok[i]) again.ok[i] = 0;
  const [src, dst] = keptPairs(corners, again.to, again.ok);
  const fit = planarFit(src, dst);
  if (!fit || src.length / 2 < options.minTracked) return none;
  const residuals = new Float32Array(src.length);
  for (let k = 0; k < src.length / 2; k++) {
    const [u, v] = applyHomography(fit.h, src[2 * k] as number, src[2 * k + 1] as number);
    residuals[2 * k] = (dst[2 * k] as number) - u;
    residuals[2 * k + 1] = (dst[2 * k + 1] as number) - v;
  }
  return { candidates, tracked, trackable: true, points: src, residuals };
}

/** The points with `ok` set, as two arrays of pairs (x0, y0, ...). */
function keptPairs(
  from: Float32Array,
  to: Float32Array,
  ok: Uint8Array,
): [Float32Array, Float32Array] {
  let n = 0;
  for (const v of ok) n += v;
  const src = new Float32Array(2 * n);
  const dst = new Float32Array(2 * n);
  for (let i = 0, k = 0; i < ok.length; i++) {
    if (!ok[i]) continue;
    src[2 * k] = from[2 * i] as number;
    src[2 * k + 1] = from[2 * i + 1] as number;
    dst[2 * k] = to[2 * i] as number;
    dst[2 * k + 1] = to[2 * i + 1] as number;
    k++;
  }
  return [src, dst];
}

/** `img` resampled so that pixel p shows img at h(p) (bilinear; edge pixels repeated). */
function warpHomography(img: GreyImage, h: readonly number[]): GreyImage {
  const { width: w, height: hh, data } = img;
  const out = new Float32Array(w * hh);
  for (let y = 0; y < hh; y++) {
    for (let x = 0; x < w; x++) {
      const [u, v] = applyHomography(h, x, y);
      const fx = Math.min(w - 1.001, Math.max(0, u));
      const fy = Math.min(hh - 1.001, Math.max(0, v));
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const [dx, dy] = [fx - x0, fy - y0];
      const i = y0 * w + x0;
      const top = (data[i] as number) * (1 - dx) + (data[i + 1] as number) * dx;
      const bottom = (data[i + w] as number) * (1 - dx) + (data[i + w + 1] as number) * dx;
      out[y * w + x] = top * (1 - dy) + bottom * dy;
    }
  }
  return { data: out, width: w, height: hh };
}

function greyPatch(p: FacePatch): GreyImage {
  return { data: Float32Array.from(p.pixels), width: p.size, height: p.size };
}

/** Convex hull (monotone chain, counter-clockwise in y-down pixels: clockwise on screen). */
export function convexHull(points: Float32Array): Float32Array {
  const idx = Array.from({ length: points.length / 2 }, (_, i) => i).sort(
    (i, j) =>
      (points[2 * i] as number) - (points[2 * j] as number) ||
      (points[2 * i + 1] as number) - (points[2 * j + 1] as number),
  );
  const cross = (o: number, a: number, b: number): number =>
    ((points[2 * a] as number) - (points[2 * o] as number)) *
      ((points[2 * b + 1] as number) - (points[2 * o + 1] as number)) -
    ((points[2 * a + 1] as number) - (points[2 * o + 1] as number)) *
      ((points[2 * b] as number) - (points[2 * o] as number));
  const chain = (order: number[]): number[] => {
    const out: number[] = [];
    for (const i of order) {
      while (
        out.length >= 2 &&
        cross(out[out.length - 2] as number, out[out.length - 1] as number, i) <= 0
      )
        out.pop();
      out.push(i);
    }
    out.pop();
    return out;
  };
  const hull = [...chain(idx), ...chain(idx.slice().reverse())];
  const out = new Float32Array(2 * hull.length);
  hull.forEach((i, k) => {
    out[2 * k] = points[2 * i] as number;
    out[2 * k + 1] = points[2 * i + 1] as number;
  });
  return out;
}

/** Whether (x, y) lies inside the convex polygon `hull` (as {@link convexHull} orders it). */
export function insideConvex(hull: Float32Array, x: number, y: number): boolean {
  const n = hull.length / 2;
  if (n < 3) return false;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const ax = hull[2 * i] as number;
    const ay = hull[2 * i + 1] as number;
    const cross =
      ((hull[2 * j] as number) - ax) * (y - ay) - ((hull[2 * j + 1] as number) - ay) * (x - ax);
    if (cross < 0) return false;
  }
  return true;
}
