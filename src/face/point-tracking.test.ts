import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../test/support/search-reference.js";
import { planarResidual } from "./homography.js";
import { convexHull, insideConvex, measurePixelParallax } from "./pixel-parallax.js";
import { type GreyImage, goodFeatures, trackPoints } from "./point-tracking.js";
import type { FacePatch } from "./types.js";

const SIZE = 120;

/** A smooth random texture (sum of blobs), readable at any real (x, y). */
function texture(seed: number): (x: number, y: number) => number {
  const random = mulberry32(seed);
  const blobs = Array.from({ length: 150 }, () => ({
    x: random() * SIZE,
    y: random() * SIZE,
    r: 2 + random() * 5,
    a: (random() * 2 - 1) * 120,
  }));
  return (x, y) => {
    let v = 128;
    for (const b of blobs)
      v += b.a * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.r * b.r));
    return v;
  };
}

/** The picture whose pixel (x, y) shows the texture at `map(x, y)`. */
function render(
  tex: (x: number, y: number) => number,
  map: (x: number, y: number) => [number, number],
): GreyImage {
  const data = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) data[y * SIZE + x] = tex(...map(x, y));
  }
  return { data, width: SIZE, height: SIZE };
}

const everywhere = () => true;

describe("trackPoints", () => {
  it("finds a sub-pixel shift to within a tenth of a pixel", () => {
    const tex = texture(1);
    const a = render(tex, (x, y) => [x, y]);
    // The second picture shows the texture moved by (+3.3, -1.7): a point at p is at p + shift.
    const b = render(tex, (x, y) => [x - 3.3, y + 1.7]);
    const points = goodFeatures(a, everywhere);
    expect(points.length / 2).toBeGreaterThan(30);
    const { to, ok, tracked } = trackPoints(a, b, points);
    expect(tracked).toBeGreaterThan(0.8 * (points.length / 2));
    for (let i = 0; i < ok.length; i++) {
      if (!ok[i]) continue;
      expect(Math.abs((to[2 * i] as number) - (points[2 * i] as number) - 3.3)).toBeLessThan(0.1);
      expect(
        Math.abs((to[2 * i + 1] as number) - (points[2 * i + 1] as number) + 1.7),
      ).toBeLessThan(0.1);
    }
  });

  it("follows a perspective warp of a plane so that a homography fits the tracks", () => {
    const tex = texture(2);
    const a = render(tex, (x, y) => [x, y]);
    // Output pixel -> texture point: a mild projective map (a tilted, moved plane).
    const b = render(tex, (x, y) => {
      const w = 1 + 0.0004 * x - 0.0003 * y;
      return [(0.97 * x + 0.04 * y - 2) / w, (-0.03 * x + 1.02 * y + 3) / w];
    });
    const points = goodFeatures(a, everywhere);
    const { to, ok, tracked } = trackPoints(a, b, points);
    expect(tracked).toBeGreaterThan(30);
    const [src, dst] = [[] as number[], [] as number[]];
    ok.forEach((good, i) => {
      if (!good) return;
      src.push(points[2 * i] as number, points[2 * i + 1] as number);
      dst.push(to[2 * i] as number, to[2 * i + 1] as number);
    });
    // A translation-only tracker is biased by the local distortion (about 0.2 px here); a broken
    // one is off by pixels. pixel-parallax.ts removes the bias with a second, aligned pass.
    expect(planarResidual(Float32Array.from(src), Float32Array.from(dst))).toBeLessThan(0.3);
  });

  it("tracks almost nothing between two unrelated pictures", () => {
    const a = render(texture(3), (x, y) => [x, y]);
    const b = render(texture(4), (x, y) => [x, y]);
    const points = goodFeatures(a, everywhere);
    expect(trackPoints(a, b, points).tracked).toBeLessThan(0.1 * (points.length / 2));
  });
});

/** A face-sized patch of the picture: the mesh a square, eyes 45 px apart. */
function patchOf(img: GreyImage): FacePatch {
  const pixels = Uint8Array.from(img.data, (v) => Math.max(0, Math.min(255, Math.round(v))));
  // Point 1 is the nose tip, as in the face mesh.
  const mesh = Float32Array.from([20, 20, 60, 60, 100, 20, 100, 100, 20, 100]);
  return { pixels, size: SIZE, mesh, eyeDistance: 45 };
}

describe("measurePixelParallax", () => {
  const tex = texture(6);
  const a = patchOf(render(tex, (x, y) => [x, y]));
  it("finds a tilted, moved plane flat", () => {
    const b = patchOf(
      render(tex, (x, y) => {
        const w = 1 + 0.001 * x - 0.0008 * y;
        return [(0.95 * x + 0.05 * y + 2) / w, (-0.04 * x + 1.03 * y - 3) / w];
      }),
    );
    const p = measurePixelParallax(a, b);
    expect(p.trackable).toBe(true);
    expect(p.residual).toBeLessThan(0.004);
  });

  it("finds the parallax of a bump that turns, and where it moved", () => {
    // A rounded face-sized bump at (60, 60) shifts its top 3 px right against the flat edges.
    const bump = (x: number, y: number) => 3 * Math.exp(-((x - 60) ** 2 + (y - 60) ** 2) / 800);
    const b = patchOf(render(tex, (x, y) => [x - bump(x, y), y]));
    const p = measurePixelParallax(a, b);
    expect(p.trackable).toBe(true);
    expect(p.residual).toBeGreaterThan(0.008);
    expect(p.noseShift.x).toBeGreaterThan(Math.abs(p.noseShift.y));
  });

  it("cannot follow two unrelated pictures", () => {
    const p = measurePixelParallax(a, patchOf(render(texture(7), (x, y) => [x, y])));
    expect(p.trackable).toBe(false);
    expect(p.residual).toBe(0);
  });
});

describe("goodFeatures", () => {
  it("finds no corners on a flat picture and keeps to the mask", () => {
    const flat = render(
      () => 100,
      (x, y) => [x, y],
    );
    expect(goodFeatures(flat, everywhere).length).toBe(0);
    const textured = render(texture(5), (x, y) => [x, y]);
    const hull = convexHull(Float32Array.from([30, 30, 90, 30, 90, 90, 30, 90, 60, 60]));
    const points = goodFeatures(textured, (x, y) => insideConvex(hull, x, y));
    expect(points.length).toBeGreaterThan(0);
    for (let i = 0; i < points.length; i++) {
      expect(points[i]).toBeGreaterThanOrEqual(30);
      expect(points[i]).toBeLessThanOrEqual(90);
    }
  });
});
