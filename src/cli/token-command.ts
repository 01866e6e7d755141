import { mintToken } from "@facevault/client";
import type { FacevaultConfig } from "../config.js";
import { FacevaultError } from "../errors.js";

/** Mints a token for `clientId` (default: the first configured client) with its first key. */
export async function tokenCommand(
  config: FacevaultConfig,
  clientId: string | undefined,
  minutes: number,
): Promise<string> {
  const client = clientId ? config.clients.find((c) => c.clientId === clientId) : config.clients[0];
  if (!client) throw new FacevaultError("not_found", `no client '${clientId}' is configured`);
  const maxSeconds = config.limits.maxTokenLifetimeSeconds;
  if (minutes * 60 > maxSeconds) {
    // The server would refuse such a token; say so now rather than on the first call.
    throw new FacevaultError(
      "invalid_argument",
      `--minutes ${minutes} is longer than limits.maxTokenLifetimeSeconds (${maxSeconds} s)`,
    );
  }
  const key = client.keys[0];
  if (!key) throw new FacevaultError("invalid_argument", `client '${client.clientId}' has no key`);
  return mintToken({ clientId: client.clientId, key, minutes });
}
