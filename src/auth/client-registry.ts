/** One API client as configured: who it is, how it signs, and where its templates live. */
export interface ClientConfig {
  /** Client id; a token's `iss` and `sub` must both equal it. */
  clientId: string;
  /** HMAC keys (decoded from base64), any of which may sign a token: several allow rotation. */
  keys: Uint8Array[];
  /** Storage name: first part of the BCID. */
  storage: string;
  /** Partition number: second part of the BCID. */
  partition: number;
  /** Keep PNG thumbnails of enrolled faces in the enhanced template (needed for upgrades). */
  storeThumbnails: boolean;
  /** Seal compact templates with per-template keys instead of the faster per-partition key. */
  encryptCompactTemplate: boolean;
}

export interface ClientRegistry {
  /** The client with this id, or undefined. */
  get(clientId: string): ClientConfig | undefined;
  /** All clients, in configuration order. */
  list(): readonly ClientConfig[];
}

/** Builds an immutable lookup of the configured clients by id. */
export function createClientRegistry(clients: readonly ClientConfig[]): ClientRegistry {
  const byId = new Map(clients.map((c) => [c.clientId, c] as const));
  return {
    get: (clientId) => byId.get(clientId),
    list: () => clients,
  };
}
