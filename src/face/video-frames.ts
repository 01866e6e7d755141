import { createRequire } from "node:module";
import type LibAVTypes from "@libav.js/variant-webm-vp9";
import sharp from "sharp";
import { FacevaultError } from "../errors.js";

const require = createRequire(import.meta.url);

type LibAV = LibAVTypes.LibAV;

/** Settings of the video decoder. */
export interface VideoDecoderOptions {
  /**
   * Most video packets read from one video; longer videos are refused. Default 900 (30 s at
   * 30 frames per second): every packet up to a sampled frame must be decoded.
   */
  maxPackets?: number;
  /** Most pixels of one frame. Default 2,073,600 (1920x1080). */
  maxFramePixels?: number;
}

/** Turns a video into a few still frames. */
export interface VideoDecoder {
  /**
   * Decodes the video (WebM or Matroska with VP8 or VP9, as browsers record) and returns up to
   * `frames` frames spread evenly over it, as JPEG images, in order. Calls run one at a time.
   * @throws FacevaultError `invalid_argument` for an undecodable, too long or too large video.
   */
  frames(video: Uint8Array, frames: number, signal?: AbortSignal): Promise<Uint8Array[]>;
}

/**
 * A VP8/VP9 WebM decoder on libav.js (ffmpeg compiled to WebAssembly, shipped inside the npm
 * package @libav.js/variant-webm-vp9: nothing is downloaded). One instance, loaded on first
 * use; it decodes on the calling thread.
 */
export function createVideoDecoder(options: VideoDecoderOptions = {}): VideoDecoder {
  const maxPackets = options.maxPackets ?? 900;
  const maxFramePixels = options.maxFramePixels ?? 1920 * 1080;
  let instance: Promise<LibAV> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let calls = 0;
  const load = (): Promise<LibAV> => {
    instance ??= (require("@libav.js/variant-webm-vp9") as typeof LibAVTypes)
      .LibAV({ noworker: true, nothreads: true })
      .then(async (libav) => {
        // ffmpeg logs to stderr by itself (codec banners); failures reach callers as errors.
        await libav.av_log_set_level(libav.AV_LOG_QUIET);
        return libav;
      });
    return instance;
  };

  async function decode(
    video: Uint8Array,
    wanted: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array[]> {
    const libav = await load();
    const name = `input-${++calls}.webm`;
    const bad = (why: string) =>
      new FacevaultError("invalid_argument", `video: ${why}`, { field: "video" });
    await libav.writeFile(name, video);
    let fmt = 0;
    let dec: [number, number, number, number] | undefined;
    try {
      let streams: LibAVTypes.Stream[];
      try {
        [fmt, streams] = await libav.ff_init_demuxer_file(name);
      } catch {
        throw bad("not a WebM/Matroska video this service can read (VP8 or VP9)");
      }
      const stream = streams.find((s) => s.codec_type === libav.AVMEDIA_TYPE_VIDEO);
      if (!stream) throw bad("the file has no video stream");
      const pkt = await libav.av_packet_alloc();
      const [, packets] = await libav.ff_read_frame_multi(fmt, pkt, { limit: 64 * 1024 * 1024 });
      await libav.av_packet_free_js(pkt);
      const videoPackets = packets[stream.index] ?? [];
      if (videoPackets.length === 0) throw bad("the video stream has no frames");
      if (videoPackets.length > maxPackets) {
        throw bad(`${videoPackets.length} frames; at most ${maxPackets} are accepted`);
      }
      try {
        dec = await libav.ff_init_decoder(stream.codec_id, { codecpar: stream.codecpar });
      } catch {
        throw bad("its codec cannot be decoded here (VP8 and VP9 can)");
      }
      const [, ctx, dpkt, dframe] = dec;
      const decoded: LibAVTypes.Frame[] = [];
      // Decode everything in chunks (later frames depend on earlier ones), keeping only the
      // frames that may be sampled: every step-th, so memory stays bounded.
      const step = Math.max(1, Math.floor(videoPackets.length / wanted));
      let index = 0;
      for (let i = 0; i < videoPackets.length; i += 16) {
        signal?.throwIfAborted();
        const chunk = videoPackets.slice(i, i + 16);
        const last = i + 16 >= videoPackets.length;
        let out: LibAVTypes.Frame[];
        try {
          out = await libav.ff_decode_multi(ctx, dpkt, dframe, chunk, {
            fin: last,
            ignoreErrors: false,
          });
        } catch {
          throw bad("its frames could not be decoded");
        }
        for (const f of out) {
          if (index % step === 0 && decoded.length < wanted) decoded.push(f);
          index++;
        }
      }
      const images: Uint8Array[] = [];
      for (const f of decoded) {
        const width = f.width ?? 0;
        const height = f.height ?? 0;
        if (width * height > maxFramePixels) {
          throw bad(`frames of ${width}x${height}; at most ${maxFramePixels} pixels are accepted`);
        }
        if (f.format !== libav.AV_PIX_FMT_YUV420P || !f.layout) {
          throw bad("frames in a pixel format other than YUV 4:2:0 are not supported");
        }
        const rgb = yuv420ToRgb(f.data as Uint8Array, f.layout, width, height);
        images.push(
          await sharp(rgb, { raw: { width, height, channels: 3 } })
            .jpeg({ quality: 95 })
            .toBuffer(),
        );
      }
      return images;
    } finally {
      if (dec) await libav.ff_free_decoder(dec[1], dec[2], dec[3]);
      if (fmt) await libav.avformat_close_input_js(fmt);
      await libav.unlink(name);
    }
  }

  return {
    frames(video, wanted, signal) {
      const run = queue.then(() => decode(video, wanted, signal));
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

/** BT.601 limited-range YUV 4:2:0 planes to packed RGB. */
function yuv420ToRgb(
  data: Uint8Array,
  layout: { offset: number; stride: number }[],
  width: number,
  height: number,
): Uint8Array {
  const [y, u, v] = layout as [
    { offset: number; stride: number },
    { offset: number; stride: number },
    { offset: number; stride: number },
  ];
  const out = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const luma = 1.164 * ((data[y.offset + row * y.stride + col] as number) - 16);
      const c = (row >> 1) * u.stride + (col >> 1);
      const cb = (data[u.offset + c] as number) - 128;
      const cr = (data[v.offset + (row >> 1) * v.stride + (col >> 1)] as number) - 128;
      const o = (row * width + col) * 3;
      out[o] = clamp(luma + 1.596 * cr);
      out[o + 1] = clamp(luma - 0.392 * cb - 0.813 * cr);
      out[o + 2] = clamp(luma + 2.017 * cb);
    }
  }
  return out;
}

const clamp = (x: number): number => (x < 0 ? 0 : x > 255 ? 255 : Math.round(x));
