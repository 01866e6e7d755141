import sharp from "sharp";
import type { TemplateStore } from "../../src/store/template-store.js";
import type { TemplateVault } from "../../src/templates/template-vault.js";
import type { TestClient } from "./test-server.js";

/** A small real PNG, standing in for a stored face thumbnail in transport tests. */
export async function samplePng(seed = 0): Promise<Uint8Array> {
  const png = await sharp({
    create: { width: 8, height: 8, channels: 3, background: { r: seed % 256, g: 80, b: 160 } },
  })
    .png()
    .toBuffer();
  return new Uint8Array(png);
}

/**
 * Stores a template directly (sealed like the service does), for tests of status, tags and
 * delete that are about transport and storage rather than the face engine.
 */
export async function seedTemplate(
  deps: { store: TemplateStore; vault: TemplateVault },
  client: TestClient,
  classId: bigint,
  options: { tags?: string[]; vectors?: number; thumbnail?: Uint8Array } = {},
): Promise<void> {
  const bcid = { storage: client.storage, partition: client.partition, classId };
  const now = new Date("2026-01-02T03:04:05.678Z");
  const features = Array.from({ length: options.vectors ?? 2 }, (_, i) => ({
    enrolledAt: now,
    vector: Float32Array.from({ length: 128 }, (_, j) => Math.sin(i + j)),
  }));
  const thumbnails = options.thumbnail ? [{ enrolledAt: now, png: options.thumbnail }] : [];
  const existing = await deps.store.get(bcid);
  await deps.store.put(
    {
      bcid,
      encoderVersion: 2,
      tags: options.tags ?? [],
      createdAt: now,
      enrolledAt: now,
      featureCount: features.length,
      thumbnailCount: thumbnails.length,
      compact: deps.vault.sealCompact(
        bcid,
        {
          encoderVersion: 2,
          featureCount: features.length,
          vector: features[0]?.vector ?? new Float32Array(128),
        },
        false,
      ),
      enhanced: deps.vault.sealEnhanced(bcid, { encoderVersion: 2, features, thumbnails }),
    },
    existing?.version ?? 0,
  );
}
