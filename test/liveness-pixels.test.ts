/**
 * Active liveness from tracked pixels on real photos with the real models (no mocks): a photo
 * moved in front of the camera is flat, a head turning (bench/head-turn.ts re-renders a real
 * photo with the head turned) shows parallax, two different photos cannot be followed. These fail
 * when the tracker or the patch cut from each image is broken: then nothing tracks, or a plane
 * shows residual.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headTurnPair, outlineOfMesh, type TurnDirection } from "../bench/head-turn.js";
import { attackPair } from "../bench/liveness-attacks.js";
import { createFacePool } from "../src/face/face-pool.js";
import { MOTION_DEFAULTS, measureMotion } from "../src/face/motion.js";
import { createParallaxThread } from "../src/face/parallax-thread.js";
import { measurePixelParallax } from "../src/face/pixel-parallax.js";
import type { FaceGeometry, FacePatch } from "../src/face/types.js";
import { photo } from "./support/photos.js";

const pool = createFacePool({ workers: 1, maxQueue: 16 });
beforeAll(() => pool.ready(), 180_000);
afterAll(() => pool.close());

/** The geometry of each image's primary face (copies: the pool takes the bytes over). */
async function geometries(images: Uint8Array[]): Promise<FaceGeometry[]> {
  const analyses = await pool.analyze(
    images.map((b) => Uint8Array.from(b)),
    { patches: true },
  );
  return analyses.map((a) => {
    if (!a.geometry?.patch) throw new Error("no face with a patch");
    return a.geometry;
  });
}

/** A webcam-sized copy of a fixture photo, as the evaluation uses. */
const webcam = (path: string) =>
  sharp(photo(path)).resize(640, 640, { fit: "inside" }).jpeg({ quality: 92 }).toBuffer();

/** The geometries of a webcam copy of `path` and of it re-rendered with the head turned. */
async function headTurn(
  path: string,
  direction: TurnDirection,
  degrees: number,
  seed: number,
): Promise<[FaceGeometry, FaceGeometry]> {
  const frontal = await webcam(path);
  const [g] = await geometries([frontal]);
  const pair = await headTurnPair(
    frontal,
    outlineOfMesh(g as FaceGeometry),
    direction,
    degrees,
    seed,
  );
  return (await geometries(pair)) as [FaceGeometry, FaceGeometry];
}

describe("active liveness from tracked pixels", () => {
  it("calls one photo tilted and moved in front of the camera flat", async () => {
    for (const [path, seed] of [
      ["people/alex/01.jpg", 7],
      ["people/obama/01.jpg", 8],
    ] as const) {
      const [a, b] = await geometries(await attackPair(await webcam(path), "perspective", seed));
      const m = measureMotion(a as FaceGeometry, b as FaceGeometry);
      expect(m.evidence).toBe("pixels");
      expect(m.pixels?.tracked).toBeGreaterThan(MOTION_DEFAULTS.parallax.minTracked);
      expect(m.residual).toBeLessThan(MOTION_DEFAULTS.minPixelResidual);
      expect(m.deep).toBe(false);
    }
  });

  it("sees the parallax of a head turning, and which way the nose went", async () => {
    const [a, b] = await headTurn("people/alex/01.jpg", "left", 12, 3);
    const m = measureMotion(a, b);
    expect(m.evidence).toBe("pixels");
    expect(m.residual).toBeGreaterThan(MOTION_DEFAULTS.minPixelResidual);
    expect(m.deep).toBe(true);
    // The subject's own left: the nose toward the image's right.
    expect(m.pixels?.noseShift.x).toBeGreaterThan(Math.abs(m.pixels?.noseShift.y ?? 0));
  });

  it("measures on its own thread what it measures on the calling thread", async () => {
    const [a, b] = await headTurn("people/obama/01.jpg", "up", 10, 5);
    const thread = createParallaxThread();
    try {
      const options = MOTION_DEFAULTS.parallax;
      const there = await thread.measure(a.patch as FacePatch, b.patch as FacePatch, options);
      const here = measurePixelParallax(a.patch as FacePatch, b.patch as FacePatch, options);
      expect(there).toEqual(here);
      expect(there.tracked).toBeGreaterThan(options.minTracked);
      expect(measureMotion(a, b, MOTION_DEFAULTS, there)).toEqual(measureMotion(a, b));
    } finally {
      await thread.close();
    }
  });

  it("cannot follow two different photos of one person, and does not call them live", async () => {
    const [a, b] = await geometries([
      await webcam("people/alex/01.jpg"),
      await webcam("people/alex/03.jpg"),
    ]);
    const m = measureMotion(a as FaceGeometry, b as FaceGeometry);
    expect(m.evidence).toBe("untracked");
    expect(m.deep).toBe(false);
    // The older mesh measure calls this photo swap deep: the reason the pixels decide.
    expect(m.meshResidual).toBeGreaterThan(MOTION_DEFAULTS.minResidual);
    const fallback = measureMotion(a as FaceGeometry, b as FaceGeometry, {
      ...MOTION_DEFAULTS,
      untracked: "mesh",
    });
    expect(fallback.evidence).toBe("mesh");
  });
});
