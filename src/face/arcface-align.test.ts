import { describe, expect, it } from "vitest";
import {
  ARCFACE_TEMPLATE,
  arcFaceCrop,
  arcFacePoints,
  fitSimilarity,
  mirrorImage,
} from "./arcface-align.js";
import type { Point, RgbImage } from "./types.js";

describe("fitSimilarity", () => {
  it("recovers a rotation, scale and shift exactly", () => {
    const angle = 0.3;
    const scale = 2.5;
    const a = scale * Math.cos(angle);
    const b = scale * Math.sin(angle);
    const moved = ARCFACE_TEMPLATE.map((p) => ({
      x: a * p.x - b * p.y + 40,
      y: b * p.x + a * p.y - 7,
    }));
    const s = fitSimilarity(ARCFACE_TEMPLATE, moved);
    expect(s.a).toBeCloseTo(a, 9);
    expect(s.b).toBeCloseTo(b, 9);
    expect(s.tx).toBeCloseTo(40, 9);
    expect(s.ty).toBeCloseTo(-7, 9);
  });
});

describe("arcFaceCrop", () => {
  it("puts the five points onto the template", () => {
    // A 400x300 image, black but for a white 3x3 dot at each of five points of a face twice the
    // template's size, shifted: the crop must show them where the template has them.
    const width = 400;
    const height = 300;
    const data = new Uint8Array(width * height * 3);
    const points: Point[] = ARCFACE_TEMPLATE.map((p) => ({
      x: Math.round(2 * p.x + 100),
      y: Math.round(2 * p.y + 50),
    }));
    for (const p of points) {
      for (let dy = -1; dy <= 1; dy++) {
        const row = ((p.y + dy) * width + p.x) * 3;
        data.fill(255, row - 3, row + 6);
      }
    }
    const crop = arcFaceCrop({ data, width, height }, points);
    expect([crop.width, crop.height]).toEqual([112, 112]);
    for (const t of ARCFACE_TEMPLATE) {
      // each dot, shrunk 2x, lights the crop pixels around its template point
      const x = Math.round(t.x);
      const y = Math.round(t.y);
      let best = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++)
          best = Math.max(best, crop.data[((y + dy) * 112 + (x + dx)) * 3] as number);
      expect(best, `near (${x}, ${y})`).toBeGreaterThan(100);
    }
    // and nothing else
    expect(crop.data.reduce((n, v) => n + (v > 0 ? 1 : 0), 0)).toBeLessThan(5 * 3 * 16);
  });

  it("mirrors left to right", () => {
    const image: RgbImage = { data: Uint8Array.from([1, 2, 3, 4, 5, 6]), width: 2, height: 1 };
    expect([...mirrorImage(image).data]).toEqual([4, 5, 6, 1, 2, 3]);
  });
});

describe("arcFacePoints", () => {
  // the mesh's nose tip (1) and mouth corners (61, 291) are the only mesh points read
  const mesh: Point[] = Array.from({ length: 300 }, () => ({ x: -1, y: -1 }));
  mesh[1] = { x: 50, y: 70 };
  mesh[61] = { x: 40, y: 90 };
  mesh[291] = { x: 60, y: 90 };
  const face = {
    mesh,
    landmarks: {
      leftEye: { x: 66, y: 52 },
      rightEye: { x: 36, y: 51 },
      alignment: { leftEye: { x: 65, y: 50 }, rightEye: { x: 35, y: 50 }, mouth: { x: 50, y: 90 } },
    },
  };

  it("takes the eye contours' centres by default (encoder 3), in the template's order", () => {
    expect(arcFacePoints(face)).toEqual([
      { x: 35, y: 50 },
      { x: 65, y: 50 },
      { x: 50, y: 70 },
      { x: 40, y: 90 },
      { x: 60, y: 90 },
    ]);
  });

  it("takes the pupils when asked (encoder 4); nose and mouth stay", () => {
    const points = arcFacePoints(face, "pupils");
    expect(points.slice(0, 2)).toEqual([
      { x: 36, y: 51 },
      { x: 66, y: 52 },
    ]);
    expect(points.slice(2)).toEqual(arcFacePoints(face).slice(2));
  });
});
