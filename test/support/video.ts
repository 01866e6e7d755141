/**
 * WebM (VP9) videos made from still photos, for VideoLivenessDetection tests: each photo becomes
 * `repeat` frames at 10 frames per second, encoded with libav.js as a browser would record.
 */
import { createRequire } from "node:module";
import type LibAVTypes from "@libav.js/variant-webm-vp9";
import sharp from "sharp";

const require = createRequire(import.meta.url);

export async function webmFromPhotos(
  photos: readonly Uint8Array[],
  size = 360,
  repeat = 2,
): Promise<Uint8Array> {
  const factory = require("@libav.js/variant-webm-vp9") as typeof LibAVTypes;
  const libav = await factory.LibAV({ noworker: true, nothreads: true });
  await libav.av_log_set_level(libav.AV_LOG_QUIET);
  const [, ctx, frame, pkt] = await libav.ff_init_encoder("libvpx-vp9", {
    ctx: { bit_rate: 1_000_000, pix_fmt: libav.AV_PIX_FMT_YUV420P, width: size, height: size },
    time_base: [1, 10],
    options: { deadline: "realtime", "cpu-used": "8" },
  });
  const frames: LibAVTypes.Frame[] = [];
  for (const p of photos) {
    const rgb = await sharp(p)
      .rotate()
      .resize(size, size, { fit: "cover" })
      .removeAlpha()
      .raw()
      .toBuffer();
    const yuv = rgbToYuv420(rgb, size);
    for (let k = 0; k < repeat; k++) {
      frames.push({
        data: yuv,
        format: libav.AV_PIX_FMT_YUV420P,
        width: size,
        height: size,
        pts: frames.length,
        layout: [
          { offset: 0, stride: size },
          { offset: size * size, stride: size / 2 },
          { offset: size * size * 1.25, stride: size / 2 },
        ],
      } as LibAVTypes.Frame);
    }
  }
  const packets = await libav.ff_encode_multi(ctx, frame, pkt, frames, true);
  const [oc, , pb] = await libav.ff_init_muxer(
    { format_name: "webm", filename: "out.webm", open: true },
    [[ctx, 1, 10]],
  );
  await libav.avformat_write_header(oc, 0);
  await libav.ff_write_multi(oc, pkt, packets);
  await libav.av_write_trailer(oc);
  await libav.ff_free_muxer(oc, pb);
  await libav.ff_free_encoder(ctx, frame, pkt);
  const out = await libav.readFile("out.webm");
  libav.terminate();
  return out;
}

function rgbToYuv420(rgb: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size * size * 1.5);
  const uOff = size * size;
  const vOff = uOff + (size * size) / 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      const [r, g, b] = [rgb[i] as number, rgb[i + 1] as number, rgb[i + 2] as number];
      out[y * size + x] = Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b);
      if (y % 2 === 0 && x % 2 === 0) {
        const c = (y / 2) * (size / 2) + x / 2;
        out[uOff + c] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
        out[vOff + c] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
      }
    }
  }
  return out;
}
