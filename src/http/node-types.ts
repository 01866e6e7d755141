import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

/** A request on either of the two servers that share the port. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** A response on either of the two servers that share the port. */
export type NodeResponse = ServerResponse | Http2ServerResponse;
