import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createClientRegistry } from "../auth/client-registry.js";
import { createTokenVerifier } from "../auth/token-verifier.js";
import { loadConfig } from "../config.js";
import { tokenCommand } from "./token-command.js";

const dir = mkdtempSync(join(tmpdir(), "facevault-token-command-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("facevault token", () => {
  it("mints tokens the server accepts and refuses lifetimes the server would refuse", async () => {
    const config = loadConfig({ env: { FACEVAULT_DATA_DIR: dir } });
    const verifier = createTokenVerifier({
      clients: createClientRegistry(config.clients),
      maxTokenLifetimeSeconds: config.limits.maxTokenLifetimeSeconds,
    });
    const token = await tokenCommand(config, undefined, 60);
    await expect(verifier.verifyAuthorization(`Bearer ${token}`)).resolves.toBe(config.clients[0]);
    await expect(tokenCommand(config, undefined, 61)).rejects.toThrow(
      /--minutes 61 is longer than limits.maxTokenLifetimeSeconds \(3600 s\)/,
    );
  });
});
