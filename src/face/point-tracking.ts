/**
 * Following image points from one grey picture to another: Shi-Tomasi corners and pyramidal
 * Lucas-Kanade (Bouguet's formulation) with a forward-backward check. Hand-written on typed
 * arrays: no package in our registry list does optical flow in plain JS, and OpenCV builds for
 * Node are native or multi-megabyte wasm. Deterministic: the same pictures give the same points.
 */

/** A grey picture, row-major, one value per pixel (0-255 as read, floats after smoothing). */
export interface GreyImage {
  data: Float32Array;
  width: number;
  height: number;
}

/** Settings of {@link trackPoints}. Distances in pixels of the finest level. */
export interface TrackingOptions {
  /** Half side of the square window compared around a point; default 5 (an 11x11 window). */
  windowRadius: number;
  /** Pyramid levels above the picture itself; default 3, so motions up to ~40 px are found. */
  levels: number;
  /** Most Gauss-Newton steps per level; default 20. */
  maxIterations: number;
  /** A step shorter than this (pixels of that level) ends a level's iterations; default 0.01. */
  epsilon: number;
  /**
   * Largest distance between a point and where it lands when tracked forward then back; points
   * farther off did not follow one image structure. Default 0.5 px.
   */
  maxForwardBackward: number;
  /**
   * Smallest normalised cross-correlation of the windows around a point and its match, in
   * [-1, 1]; below it the two windows do not show the same thing. Default 0.8.
   */
  minCorrelation: number;
}

export const TRACKING_DEFAULTS: TrackingOptions = {
  windowRadius: 5,
  levels: 3,
  maxIterations: 20,
  epsilon: 0.01,
  maxForwardBackward: 0.5,
  minCorrelation: 0.8,
};

/** Settings of {@link goodFeatures}. */
export interface FeatureOptions {
  /** Most points returned; default 200. */
  maxPoints: number;
  /** Smallest distance between two points, pixels; default 5. */
  minDistance: number;
  /** Weakest corner kept, as a share of the strongest corner's score; default 0.01. */
  quality: number;
  /**
   * Weakest corner kept in absolute terms: the smaller eigenvalue of the 5x5 structure tensor
   * of grey values 0-255 (per-pixel mean), so a flat, featureless picture gives no points.
   * Default 20.
   */
  minEigen: number;
}

export const FEATURE_DEFAULTS: FeatureOptions = {
  maxPoints: 200,
  minDistance: 4,
  quality: 0.01,
  minEigen: 4,
};

/** Grey values of RGB pixels (ITU-R BT.601 weights). */
export function greyOf(rgb: Uint8Array, width: number, height: number): GreyImage {
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    data[i] =
      0.299 * (rgb[3 * i] as number) +
      0.587 * (rgb[3 * i + 1] as number) +
      0.114 * (rgb[3 * i + 2] as number);
  }
  return { data, width, height };
}

/** Binomial [1 4 6 4 1]/16 smoothing, borders replicated. */
export function smooth(img: GreyImage): GreyImage {
  const { width: w, height: h, data } = img;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const k = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];
  const cx = (x: number) => (x < 0 ? 0 : x >= w ? w - 1 : x);
  const cy = (y: number) => (y < 0 ? 0 : y >= h ? h - 1 : y);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -2; t <= 2; t++) s += (k[t + 2] as number) * (data[y * w + cx(x + t)] as number);
      tmp[y * w + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -2; t <= 2; t++) s += (k[t + 2] as number) * (tmp[cy(y + t) * w + x] as number);
      out[y * w + x] = s;
    }
  }
  return { data: out, width: w, height: h };
}

/** The picture, smoothed, then halved `levels` times (each level smoothed before halving). */
export function pyramid(img: GreyImage, levels: number): GreyImage[] {
  const out = [smooth(img)];
  for (let l = 0; l < levels; l++) {
    const prev = smooth(out[out.length - 1] as GreyImage);
    const w = Math.max(1, prev.width >> 1);
    const h = Math.max(1, prev.height >> 1);
    const data = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const x2 = Math.min(prev.width - 1, 2 * x);
        const y2 = Math.min(prev.height - 1, 2 * y);
        data[y * w + x] = prev.data[y2 * prev.width + x2] as number;
      }
    }
    out.push({ data, width: w, height: h });
  }
  return out;
}

/** Central-difference gradients (pixels of the picture; 0 on the border). */
function gradients(img: GreyImage): { gx: Float32Array; gy: Float32Array } {
  const { width: w, height: h, data } = img;
  const gx = new Float32Array(w * h);
  const gy = new Float32Array(w * h);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      gx[i] = ((data[i + 1] as number) - (data[i - 1] as number)) / 2;
      gy[i] = ((data[i + w] as number) - (data[i - w] as number)) / 2;
    }
  }
  return { gx, gy };
}

/** Bilinear read at (x, y) in pixel-index coordinates; the caller keeps it inside. */
function sample(data: Float32Array, w: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const i = y0 * w + x0;
  const top = (data[i] as number) * (1 - fx) + (data[i + 1] as number) * fx;
  const bottom = (data[i + w] as number) * (1 - fx) + (data[i + w + 1] as number) * fx;
  return top * (1 - fy) + bottom * fy;
}

/**
 * Shi-Tomasi corners: points whose 5x5 structure tensor has a large smaller eigenvalue (texture
 * in two directions, which a tracker can pin down), strongest first, at least `minDistance`
 * apart, only where `inside(x, y)` holds. Returns x0, y0, x1, y1, ... in pixel-index coordinates.
 */
export function goodFeatures(
  img: GreyImage,
  inside: (x: number, y: number) => boolean,
  options: FeatureOptions = FEATURE_DEFAULTS,
): Float32Array {
  const smoothed = smooth(img);
  const { width: w, height: h } = smoothed;
  const { gx, gy } = gradients(smoothed);
  const score = new Float32Array(w * h);
  let best = 0;
  const margin = 3;
  for (let y = margin; y < h - margin; y++) {
    for (let x = margin; x < w - margin; x++) {
      if (!inside(x, y)) continue;
      let sxx = 0;
      let sxy = 0;
      let syy = 0;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const i = (y + dy) * w + x + dx;
          const a = gx[i] as number;
          const b = gy[i] as number;
          sxx += a * a;
          sxy += a * b;
          syy += b * b;
        }
      }
      const n = 25;
      const tr = (sxx + syy) / n;
      const det = (sxx * syy - sxy * sxy) / (n * n);
      const e = tr / 2 - Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
      score[y * w + x] = e;
      if (e > best) best = e;
    }
  }
  const floor = Math.max(options.minEigen, options.quality * best);
  const candidates: number[] = [];
  for (let i = 0; i < score.length; i++) if ((score[i] as number) >= floor) candidates.push(i);
  // Strongest first; ties by index so the order never depends on the sort's stability.
  candidates.sort((i, j) => (score[j] as number) - (score[i] as number) || i - j);
  const kept: number[] = [];
  const d2 = options.minDistance * options.minDistance;
  for (const i of candidates) {
    if (kept.length / 2 >= options.maxPoints) break;
    const x = i % w;
    const y = (i - x) / w;
    let free = true;
    for (let k = 0; k < kept.length && free; k += 2) {
      const dx = (kept[k] as number) - x;
      const dy = (kept[k + 1] as number) - y;
      if (dx * dx + dy * dy < d2) free = false;
    }
    if (free) kept.push(x, y);
  }
  return Float32Array.from(kept);
}

/** Where each point went, and whether it was followed reliably. */
export interface TrackResult {
  /** x0, y0, ... of the points in the second picture (meaningless where `ok` is 0). */
  to: Float32Array;
  /** 1 where the point was tracked forward, back to within `maxForwardBackward`, and matched. */
  ok: Uint8Array;
  /** How many points are `ok`. */
  tracked: number;
}

/** A picture's pyramid with its gradients, built once per picture. */
interface Level {
  img: GreyImage;
  gx: Float32Array;
  gy: Float32Array;
}

function levelsOf(img: GreyImage, levels: number): Level[] {
  return pyramid(img, levels).map((l) => ({ img: l, ...gradients(l) }));
}

/**
 * Pyramidal Lucas-Kanade from `from` to `to` for the points `points` (x0, y0, ...), coarse to
 * fine, each level starting from the doubled result of the one above. Returns the points'
 * places in `to` and NaN where the window left the picture or the gradient matrix was singular.
 */
function lucasKanade(
  from: Level[],
  to: Level[],
  points: Float32Array,
  options: TrackingOptions,
): Float32Array {
  const r = options.windowRadius;
  const side = 2 * r + 1;
  const tI = new Float32Array(side * side);
  const tX = new Float32Array(side * side);
  const tY = new Float32Array(side * side);
  const out = new Float32Array(points.length);
  for (let p = 0; p < points.length; p += 2) {
    let gx = 0;
    let gy = 0;
    let lost = false;
    for (let l = from.length - 1; l >= 0 && !lost; l--) {
      const a = from[l] as Level;
      const b = to[l] as Level;
      const w = a.img.width;
      const k = 2 ** l;
      // Each level keeps every second pixel of the one below (after smoothing): x / 2.
      const px = (points[p] as number) / k;
      const py = (points[p + 1] as number) / k;
      if (px - r < 0 || py - r < 0 || px + r >= w - 1 || py + r >= a.img.height - 1) {
        // Too near the border at this level: carry the guess down without refining it.
        gx *= l > 0 ? 2 : 1;
        gy *= l > 0 ? 2 : 1;
        if (l === 0) lost = true;
        continue;
      }
      let gxx = 0;
      let gxy = 0;
      let gyy = 0;
      for (let j = 0, n = 0; j < side; j++) {
        for (let i = 0; i < side; i++, n++) {
          const x = px - r + i;
          const y = py - r + j;
          const ix = sample(a.gx, w, x, y);
          const iy = sample(a.gy, w, x, y);
          tI[n] = sample(a.img.data, w, x, y);
          tX[n] = ix;
          tY[n] = iy;
          gxx += ix * ix;
          gxy += ix * iy;
          gyy += iy * iy;
        }
      }
      const det = gxx * gyy - gxy * gxy;
      if (det < 1e-6 * side * side) {
        // No texture at this level: a coarse level carries its guess down; at the finest the
        // point cannot be placed.
        if (l === 0) lost = true;
        gx *= l > 0 ? 2 : 1;
        gy *= l > 0 ? 2 : 1;
        continue;
      }
      let vx = 0;
      let vy = 0;
      const bw = b.img.width;
      for (let it = 0; it < options.maxIterations; it++) {
        const qx = px + gx + vx;
        const qy = py + gy + vy;
        if (qx - r < 0 || qy - r < 0 || qx + r >= bw - 1 || qy + r >= b.img.height - 1) {
          // Off the picture: fatal at the finest level; a coarse one keeps what it had.
          if (l === 0) lost = true;
          break;
        }
        let bx = 0;
        let by = 0;
        for (let j = 0, n = 0; j < side; j++) {
          for (let i = 0; i < side; i++, n++) {
            const diff = (tI[n] as number) - sample(b.img.data, bw, qx - r + i, qy - r + j);
            bx += diff * (tX[n] as number);
            by += diff * (tY[n] as number);
          }
        }
        const ex = (gyy * bx - gxy * by) / det;
        const ey = (gxx * by - gxy * bx) / det;
        vx += ex;
        vy += ey;
        if (ex * ex + ey * ey < options.epsilon * options.epsilon) break;
      }
      if (lost) break;
      gx = l > 0 ? 2 * (gx + vx) : gx + vx;
      gy = l > 0 ? 2 * (gy + vy) : gy + vy;
    }
    out[p] = lost ? Number.NaN : (points[p] as number) + gx;
    out[p + 1] = lost ? Number.NaN : (points[p + 1] as number) + gy;
  }
  return out;
}

/** Normalised cross-correlation of the windows of side 2r+1 around (ax, ay) and (bx, by). */
function correlation(
  a: GreyImage,
  ax: number,
  ay: number,
  b: GreyImage,
  bx: number,
  by: number,
  r: number,
): number {
  if (bx - r < 0 || by - r < 0 || bx + r >= b.width - 1 || by + r >= b.height - 1) return -1;
  if (ax - r < 0 || ay - r < 0 || ax + r >= a.width - 1 || ay + r >= a.height - 1) return -1;
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  let n = 0;
  for (let j = -r; j <= r; j++) {
    for (let i = -r; i <= r; i++) {
      const u = sample(a.data, a.width, ax + i, ay + j);
      const v = sample(b.data, b.width, bx + i, by + j);
      sa += u;
      sb += v;
      saa += u * u;
      sbb += v * v;
      sab += u * v;
      n++;
    }
  }
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  if (va <= 1e-9 || vb <= 1e-9) return 0;
  return (sab - (sa * sb) / n) / Math.sqrt(va * vb);
}

/**
 * Tracks `points` (x0, y0, ... in `from`'s pixel-index coordinates) into `to`: forward, then
 * back from where they landed; a point counts as tracked when it comes back to within
 * `maxForwardBackward` and the windows around it and its match correlate at least
 * `minCorrelation`. Both checks catch the tracker settling on different structures, as between
 * two unrelated pictures.
 */
export function trackPoints(
  from: GreyImage,
  to: GreyImage,
  points: Float32Array,
  options: TrackingOptions = TRACKING_DEFAULTS,
): TrackResult {
  const a = levelsOf(from, options.levels);
  const b = levelsOf(to, options.levels);
  const forward = lucasKanade(a, b, points, options);
  const back = lucasKanade(b, a, forward, options);
  const ok = new Uint8Array(points.length / 2);
  let tracked = 0;
  const [fa, fb0] = [(a[0] as Level).img, (b[0] as Level).img];
  for (let i = 0; i < ok.length; i++) {
    const [x, y] = [points[2 * i] as number, points[2 * i + 1] as number];
    const [u, v] = [forward[2 * i] as number, forward[2 * i + 1] as number];
    const fb = Math.hypot((back[2 * i] as number) - x, (back[2 * i + 1] as number) - y);
    if (!(fb <= options.maxForwardBackward)) continue;
    const c = correlation(fa, x, y, fb0, u, v, options.windowRadius);
    if (c < options.minCorrelation) continue;
    ok[i] = 1;
    tracked++;
  }
  return { to: forward, ok, tracked };
}
