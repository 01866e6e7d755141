import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeDefaults, decodeImage, ImageError } from "./decode.js";

const options = decodeDefaults();

async function photo(width: number, height: number): Promise<Buffer> {
  // left half red, right half blue: orientation is visible in the pixels
  const left = await sharp({
    create: { width: width / 2, height, channels: 3, background: "#ff0000" },
  })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: "#0000ff" } })
    .composite([{ input: left, left: 0, top: 0 }])
    .jpeg()
    .toBuffer();
}

async function failure(bytes: Uint8Array, opts = options): Promise<ImageError> {
  const err = await decodeImage(bytes, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  return err as ImageError;
}

describe("decodeImage", () => {
  it("decodes the accepted formats to RGB", async () => {
    const jpeg = await photo(64, 48);
    for (const format of ["jpeg", "png", "webp", "gif", "tiff", "avif"] as const) {
      const bytes = await sharp(jpeg).toFormat(format).toBuffer();
      const d = await decodeImage(bytes, options);
      expect(d.image.width).toBe(64);
      expect(d.image.height).toBe(48);
      expect(d.image.data.length).toBe(64 * 48 * 3);
      expect(d.scale).toBe(1);
    }
  });

  it("applies EXIF orientation first", async () => {
    const rotated = await sharp(await photo(64, 48))
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const d = await decodeImage(rotated, options);
    expect([d.inputWidth, d.inputHeight]).toEqual([48, 64]);
    // orientation 6 = turn 90 degrees clockwise: the red left half ends on top
    const topRed = d.image.data[(2 * 48 + 24) * 3] as number;
    const bottomRed = d.image.data[(60 * 48 + 24) * 3] as number;
    expect(topRed).toBeGreaterThan(200);
    expect(bottomRed).toBeLessThan(50);
  });

  it("flattens transparency and expands grey to RGB", async () => {
    const grey = await sharp(await photo(32, 32))
      .grayscale()
      .png()
      .toBuffer();
    expect((await decodeImage(grey, options)).image.data.length).toBe(32 * 32 * 3);
    const alpha = await sharp({
      create: { width: 8, height: 8, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    expect((await decodeImage(alpha, options)).image.data[0]).toBe(255);
  });

  it("scales images above 1200x1600 down, either orientation", async () => {
    const wide = await decodeImage(await photo(2000, 1000), options);
    expect([wide.image.width, wide.image.height]).toEqual([1600, 800]);
    expect(wide.scale).toBeCloseTo(0.8);
    const tall = await decodeImage(await photo(1400, 1600), options);
    expect([tall.image.width, tall.image.height]).toEqual([1200, 1371]);
  });

  it("rejects empty, text, truncated and unsupported input with a clear message", async () => {
    expect((await failure(new Uint8Array(0))).message).toMatch(/empty/);
    const text = await failure(new TextEncoder().encode("hello, I am not an image"));
    expect(text.code).toBe("InvalidImage");
    expect(text.message).toMatch(/not an image in a supported format/);
    const jpeg = await photo(256, 256);
    const truncated = await failure(jpeg.subarray(0, jpeg.length / 2));
    expect(truncated.message).toMatch(/corrupt or truncated/);
    const svg = await failure(
      new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'),
    );
    expect(svg.code).toBe("UnsupportedImageFormat");
  });

  it("refuses decompression bombs from the header, before decoding pixels", async () => {
    // 10000x10000 black PNG: a few hundred KB that would decode to 300 MB
    const bomb = await sharp({
      create: { width: 10000, height: 10000, channels: 3, background: "#000" },
    })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const started = performance.now();
    const err = await failure(bomb);
    expect(err.code).toBe("ImageTooLarge");
    expect(err.message).toMatch(/10000x10000/);
    expect(performance.now() - started).toBeLessThan(200);
    const small = await failure(await photo(100, 100), { ...options, maxInputPixels: 5000 });
    expect(small.code).toBe("ImageTooLarge");
  });
});
