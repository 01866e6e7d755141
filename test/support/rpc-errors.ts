import { type Code, ConnectError } from "@connectrpc/connect";

/** The gRPC code a call failed with; throws when it succeeded. */
export async function codeOf(promise: Promise<unknown>): Promise<Code> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err).code;
  }
  throw new Error("expected the call to fail");
}
