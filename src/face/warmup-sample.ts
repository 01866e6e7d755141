import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { FacevaultError } from "../errors.js";
import type { RgbImage } from "./types.js";

/**
 * The face human itself warms up with: a 256x256 JPEG kept as base64 in the package's
 * `src/sample.ts` (its wasm build does not export it). Read from the installed package, so no
 * photo ships with facevault.
 */
export async function loadWarmupSample(humanPackageDir: string): Promise<RgbImage> {
  const file = join(humanPackageDir, "src", "sample.ts");
  let base64: string | undefined;
  try {
    base64 = /export const face: string = `([^`]+)`/.exec(readFileSync(file, "utf8"))?.[1];
  } catch (cause) {
    throw new FacevaultError("internal", `warm-up sample not readable: ${file}`, { cause });
  }
  if (!base64) throw new FacevaultError("internal", `warm-up sample not found in ${file}`);
  const { data, info } = await sharp(Buffer.from(base64.replace(/\s+/g, ""), "base64"))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}
