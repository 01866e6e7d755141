import { describe, expect, it } from "vitest";
import { isFacevaultError } from "../errors.js";
import {
  compareFeatures,
  cosineDistance,
  DEFAULT_ENCODER_VERSION,
  encoderVersions,
  euclideanDistance,
  getEncoder,
} from "./encoders.js";

function vector(dimension: number, seed: number): Float32Array {
  const v = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) v[i] = Math.sin(seed * 7.1 + i * 1.3);
  return v;
}

describe("encoders", () => {
  it("knows versions 1 to 4 with their dimensions; 4 is the default", () => {
    expect(encoderVersions()).toEqual([1, 2, 3, 4]);
    expect(getEncoder(1).dimension).toBe(1024);
    expect(getEncoder(2).dimension).toBe(128);
    expect(getEncoder(3)).toMatchObject({ dimension: 512, metric: "cosine" });
    expect(getEncoder(4)).toMatchObject({ dimension: 512, metric: "cosine" });
    expect(DEFAULT_ENCODER_VERSION).toBe(4);
  });

  it("throws invalid_argument for an unknown version", () => {
    expect(() => getEncoder(5)).toThrow(/unknown encoder version 5/);
    try {
      getEncoder(0);
    } catch (err) {
      expect(isFacevaultError(err, "invalid_argument")).toBe(true);
    }
  });

  it("computes Euclidean and cosine distances", () => {
    const a = Float32Array.from([3, 0]);
    const b = Float32Array.from([0, 4]);
    expect(euclideanDistance(a, b)).toBeCloseTo(5);
    expect(cosineDistance(a, b)).toBeCloseTo(1);
    expect(cosineDistance(a, Float32Array.from([6, 0]))).toBeCloseTo(0);
  });

  it("maps distances to scores in ]0,1], above 0.5 exactly below the threshold", () => {
    for (const version of encoderVersions()) {
      const e = getEncoder(version);
      expect(e.score(e.threshold)).toBeCloseTo(0.5);
      expect(e.score(e.threshold * 0.9)).toBeGreaterThan(0.5);
      expect(e.score(e.threshold * 1.1)).toBeLessThan(0.5);
      expect(e.score(0)).toBeLessThanOrEqual(1);
      expect(e.score(100)).toBeGreaterThan(0);
      expect(e.score(e.threshold / 2)).toBeGreaterThan(e.score(e.threshold / 1.5));
      for (const d of [0.8 * e.threshold, e.threshold, 1.3 * e.threshold]) {
        expect(e.distanceForScore(e.score(d))).toBeCloseTo(d, 6);
      }
    }
  });

  it("refuses vectors of the wrong dimension", () => {
    expect(() => getEncoder(2).distance(vector(128, 1), vector(127, 2))).toThrow(/expected 128/);
  });

  it("never compares vectors of different encoder versions", () => {
    const v1 = { encoderVersion: 1, vector: vector(1024, 1) };
    const v2 = { encoderVersion: 2, vector: vector(128, 1) };
    expect(() => compareFeatures(v1, v2)).toThrow(/cannot compare encoder 1 with encoder 2/);
    const same = compareFeatures(v2, { encoderVersion: 2, vector: vector(128, 1) });
    expect(same.distance).toBe(0);
    expect(same.score).toBeGreaterThan(0.5);
  });
});
