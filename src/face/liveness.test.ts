import { describe, expect, it } from "vitest";
import { textureLivenessScore } from "./liveness.js";

describe("textureLivenessScore", () => {
  it("is 0 when no model scored the face", () => {
    expect(textureLivenessScore(0, 0)).toBe(0);
  });
  it("averages the scores present and stays in ]0,1]", () => {
    expect(textureLivenessScore(0.6, 1)).toBeCloseTo(0.8);
    expect(textureLivenessScore(0.4, 0)).toBeCloseTo(0.4);
    expect(textureLivenessScore(0.0001, 0.0001)).toBe(0.001);
  });
});
