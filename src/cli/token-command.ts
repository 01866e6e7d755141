import { mintToken } from "../auth/token-minter.js";
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
  const key = client.keys[0];
  if (!key) throw new FacevaultError("invalid_argument", `client '${client.clientId}' has no key`);
  return mintToken({ clientId: client.clientId, key, minutes });
}
