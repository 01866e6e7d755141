import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../test/support/search-reference.js";
import { coherentResidual } from "./pixel-parallax.js";

/** A seeded generator of standard normal numbers (Box-Muller). */
function normals(seed: number): () => number {
  const random = mulberry32(seed);
  // 1 - random() is in ]0, 1]: no log of 0.
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** 200 points scattered over a 100 px square, as corners over a face patch. */
function scatter(seed: number): Float32Array {
  const random = normals(seed);
  return Float32Array.from({ length: 400 }, () => 50 + 20 * random());
}

const rms = (v: Float32Array): number =>
  Math.sqrt(v.reduce((s, x) => s + x * x, 0) / (v.length / 2));

describe("coherent residual", () => {
  it("keeps a smooth field of residuals and drops independent errors of the same size", () => {
    const points = scatter(1);
    // A nose-like bump: points near the centre move right, the rest barely.
    const bump = points.map((_, i) =>
      i % 2 === 0
        ? 1.5 *
          Math.exp(
            -(((points[i] as number) - 50) ** 2 + ((points[i + 1] as number) - 50) ** 2) / 400,
          )
        : 0,
    );
    const random = normals(2);
    const noise = bump.map(() => random());
    const scale = rms(bump) / rms(noise);
    const sameSizeNoise = noise.map((x) => x * scale);
    const smooth = coherentResidual(points, bump, 20);
    const rough = coherentResidual(points, sameSizeNoise, 20);
    expect(smooth).toBeGreaterThan(0.6 * rms(bump));
    expect(rough).toBeLessThan(0.25 * rms(sameSizeNoise));
    // Noise on top of the bump leaves the bump's share about where it was.
    const both = bump.map((x, i) => x + 0.5 * (sameSizeNoise[i] as number));
    expect(coherentResidual(points, both, 20)).toBeGreaterThan(0.8 * smooth);
    expect(coherentResidual(points, both, 20)).toBeLessThan(1.25 * smooth);
  });

  it("is 0 for no points, and the plain RMS when each point is alone in its radius", () => {
    expect(coherentResidual(new Float32Array(0), new Float32Array(0), 10)).toBe(0);
    const points = Float32Array.from([0, 0, 100, 0, 0, 100]);
    // Alone, each mean is the residual itself and nothing tells noise from motion.
    expect(coherentResidual(points, Float32Array.from([1, 0, 1, 0, 1, 0]), 1)).toBeCloseTo(1);
  });
});
