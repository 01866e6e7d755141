import { describe, expect, it } from "vitest";
import { planarResidual } from "./homography.js";
import { measureMotion } from "./motion.js";
import type { FaceGeometry } from "./types.js";

/** Points of a bumpy 3D surface (a crude face: a nose sticking out), seen by a pinhole camera. */
function project(yawDegrees: number, depth: number, tilt = 0): Float32Array {
  const out: number[] = [];
  const yaw = (yawDegrees * Math.PI) / 180;
  for (let i = 0; i < 15; i++) {
    for (let j = 0; j < 15; j++) {
      const x = (i - 7) * 10;
      const y = (j - 7) * 10;
      const z = depth * Math.exp(-(x * x + y * y) / 1500);
      const xr = x * Math.cos(yaw) + z * Math.sin(yaw);
      const zr = -x * Math.sin(yaw) + z * Math.cos(yaw) + 600 + tilt * y;
      out.push(300 + (800 * xr) / zr, 300 + (800 * y) / zr);
    }
  }
  return Float32Array.from(out);
}

const geometry = (mesh: Float32Array, yaw: number): FaceGeometry => ({
  mesh,
  pose: { yaw, pitch: 0, roll: 0 },
  eyeDistance: 80,
});

describe("planarResidual", () => {
  it("fits a flat picture moved and tilted in front of the camera to within rounding", () => {
    expect(planarResidual(project(0, 0), project(20, 0, 0.3))).toBeLessThan(1e-3);
  });

  it("leaves depth parallax of a turning head as residual", () => {
    expect(planarResidual(project(0, 60), project(20, 60))).toBeGreaterThan(1);
  });
});

describe("measureMotion", () => {
  it("calls a turn of a flat picture planar and a head turn deep, with the direction", () => {
    const flat = measureMotion(geometry(project(0, 0), 0), geometry(project(20, 0), 20));
    const head = measureMotion(geometry(project(0, 60), 0), geometry(project(20, 60), 20));
    expect(flat.score).toBeLessThan(0.5);
    expect(head.score).toBeGreaterThan(0.5);
    // yaw growing: the subject turned to their own right, the nose toward the image's left.
    expect(head.moved).toBe("right");
    expect(head.direction).toBe(180);
  });

  it("reports no direction for a turn below the minimum", () => {
    const m = measureMotion(geometry(project(0, 60), 0), geometry(project(1, 60), 1));
    expect(m.moved).toBeUndefined();
    expect(m.direction).toBe(0);
  });
});
