import { describe, expect, it } from "vitest";
import { applyAffine, dlibFrame, frameToAffine, warpAffine } from "./align.js";
import type { RgbImage } from "./types.js";

function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = x * 10;
      data[i + 1] = y * 10;
      data[i + 2] = 7;
    }
  }
  return { data, width, height };
}

describe("warpAffine", () => {
  it("copies pixels exactly under the identity", () => {
    const src = gradient(8, 6);
    const out = warpAffine(src, { a: 1, b: 0, c: 0, d: 0, e: 1, f: 0 }, 8, 6);
    expect(Array.from(out.data)).toEqual(Array.from(src.data));
  });

  it("fills outside pixels with black", () => {
    const src = gradient(4, 4);
    const out = warpAffine(src, { a: 1, b: 0, c: 10, d: 0, e: 1, f: 10 }, 2, 2);
    expect(Array.from(out.data)).toEqual(new Array(12).fill(0));
  });

  it("averages sub-samples when shrinking", () => {
    // black and white columns shrunk by 2 are mid grey, where plain bilinear would alias
    const src: RgbImage = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4 };
    for (let i = 0; i < 16; i++) src.data.fill(i % 2 === 1 ? 200 : 0, i * 3, i * 3 + 3);
    const out = warpAffine(src, { a: 2, b: 0, c: 0, d: 0, e: 2, f: 0 }, 2, 2);
    expect(Array.from(out.data)).toEqual(new Array(12).fill(100));
  });
});

describe("frameToAffine", () => {
  it("puts the frame centre at the anchor and turns with the angle", () => {
    const frame = {
      center: { x: 50, y: 40 },
      size: 30,
      angle: Math.PI / 2,
      anchorX: 0.5,
      anchorY: 0.5,
    };
    const m = frameToAffine(frame, 150);
    const centre = applyAffine(m, { x: 75, y: 75 });
    expect(centre.x).toBeCloseTo(50);
    expect(centre.y).toBeCloseTo(40);
    // one crop pixel to the right is 0.2 source pixels along the frame's x axis, turned 90 degrees
    const right = applyAffine(m, { x: 76, y: 75 });
    expect(right.x).toBeCloseTo(50);
    expect(right.y).toBeCloseTo(40.2);
  });
});

describe("dlibFrame", () => {
  const landmarks = {
    leftEye: { x: 140, y: 100 },
    rightEye: { x: 100, y: 100 },
    mouth: { x: 120, y: 145 },
  };

  it("sizes the square from the eye-to-mouth distance as face-api does", () => {
    const f = dlibFrame(landmarks, false);
    const eyeToMouth = Math.hypot(20, 45);
    expect(f.size).toBeCloseTo(eyeToMouth / 0.45);
    expect(f.center.x).toBeCloseTo(120);
    expect(f.center.y).toBeCloseTo(115);
    expect(f.anchorY).toBe(0.43);
    expect(f.angle).toBe(0);
  });

  it("levels tilted eyes when asked", () => {
    const tilted = { ...landmarks, leftEye: { x: 140, y: 120 } };
    expect(dlibFrame(tilted, true).angle).toBeCloseTo(Math.atan2(20, 40));
  });
});
