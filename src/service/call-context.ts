import type { ClientConfig } from "../auth/client-registry.js";

/** Who is calling and until when: the transport builds it from its own call context. */
export interface CallContext {
  client: ClientConfig;
  /** Aborts when the client cancels or the deadline passes; work stops at the next check. */
  signal: AbortSignal;
}
