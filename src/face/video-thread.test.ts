import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { webmFromPhotos } from "../../test/support/video.js";
import { createVideoDecoder } from "./video-frames.js";
import { createVideoDecoderThread } from "./video-thread.js";

/** Three flat-coloured frames: different enough to tell apart after VP9 and JPEG. */
async function colourVideo(): Promise<Uint8Array> {
  const colours = ["#d03030", "#30d030", "#3030d0"];
  const photos = await Promise.all(
    colours.map(
      async (background) =>
        new Uint8Array(
          await sharp({ create: { width: 64, height: 64, channels: 3, background } })
            .png()
            .toBuffer(),
        ),
    ),
  );
  return webmFromPhotos(photos, 64, 4);
}

/** Mean RGB of a JPEG frame. */
async function meanColour(jpeg: Uint8Array): Promise<number[]> {
  const stats = await sharp(jpeg).stats();
  return stats.channels.slice(0, 3).map((c) => Math.round(c.mean));
}

describe("video decoder thread", () => {
  const thread = createVideoDecoderThread();
  afterAll(() => thread.close());

  it("gives the frames the decoder on the calling thread gives", async () => {
    const video = await colourVideo();
    const here = await createVideoDecoder().frames(video, 3);
    const there = await thread.frames(video, 3);
    expect(there.length).toBe(3);
    expect(await Promise.all(there.map(meanColour))).toEqual(
      await Promise.all(here.map(meanColour)),
    );
    // Red, green, blue in order: the frames are the video's, not blanks.
    const [r, g, b] = (await Promise.all(there.map(meanColour))) as number[][];
    expect(r?.[0]).toBeGreaterThan(150);
    expect(g?.[1]).toBeGreaterThan(150);
    expect(b?.[2]).toBeGreaterThan(150);
  }, 60_000);

  it("refuses bytes that are no video with the decoder's error, naming the field", async () => {
    await expect(thread.frames(new Uint8Array([1, 2, 3, 4]), 3)).rejects.toMatchObject({
      kind: "invalid_argument",
      field: "video",
    });
  }, 60_000);

  it("a cancelled call ends at once, and the next call is decoded by a new thread", async () => {
    const video = await colourVideo();
    const controller = new AbortController();
    const cancelled = thread.frames(video, 3, controller.signal);
    controller.abort(new Error("client went away"));
    await expect(cancelled).rejects.toThrow("client went away");
    expect((await thread.frames(video, 2)).length).toBe(2);
  }, 60_000);
});
