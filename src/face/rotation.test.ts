import { describe, expect, it } from "vitest";
import { unturnPoint } from "./rotation.js";

describe("unturnPoint", () => {
  // A 4x2 image (width 4, height 2); pixel centres.
  const width = 4;
  const height = 2;
  const p = { x: 0.5, y: 0.5 }; // top-left pixel of the original

  it("maps the top-left pixel through each clockwise turn and back", () => {
    // after a 90 degree clockwise turn (2 wide, 4 high) the original top-left is at the top-right
    expect(unturnPoint({ x: 1.5, y: 0.5 }, 90, width, height)).toEqual(p);
    // after 180 it is at the bottom-right
    expect(unturnPoint({ x: 3.5, y: 1.5 }, 180, width, height)).toEqual(p);
    // after 270 (counter-clockwise) it is at the bottom-left
    expect(unturnPoint({ x: 0.5, y: 3.5 }, 270, width, height)).toEqual(p);
    expect(unturnPoint(p, 0, width, height)).toEqual(p);
  });
});
