import sharp from "sharp";

/**
 * Turns off libvips' operation cache for the whole process. Every upload is a new photo, so the
 * cache never hits; it would only keep decoded faces in memory after their call (up to 50 MB by
 * default). The setting is process-wide, but loading sharp in any thread resets it to the
 * default: each thread that loads sharp calls this after its imports.
 */
export function disableSharpCache(): void {
  sharp.cache(false);
}
