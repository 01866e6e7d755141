import { describe, expect, it } from "vitest";
import { createMobileFaceNet } from "./mobilefacenet.js";
import { resolveModelPaths } from "./model-files.js";

describe("createMobileFaceNet", () => {
  const { path, sha256 } = resolveModelPaths().mobileFaceNet;

  it("refuses a model file whose sha256 differs from the one expected", async () => {
    const wrong = `${sha256.slice(0, -1)}${sha256.endsWith("0") ? "1" : "0"}`;
    await expect(createMobileFaceNet({ modelPath: path, sha256: wrong })).rejects.toThrow(
      /refusing to load it/,
    );
  });

  it("loads the checked model and gives 512 values for a 112x112 crop", async () => {
    const model = await createMobileFaceNet({ modelPath: path, sha256 });
    try {
      const crop = { data: new Uint8Array(112 * 112 * 3).fill(128), width: 112, height: 112 };
      const vector = await model.describe(crop);
      expect(vector).toHaveLength(512);
      expect(vector.every(Number.isFinite)).toBe(true);
      await expect(model.describe({ ...crop, width: 100 })).rejects.toThrow(/112x112/);
    } finally {
      await model.close();
    }
  });
});
