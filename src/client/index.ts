/** Typed facevault clients for other services: grpc-js, Connect, gRPC and gRPC-Web, and tokens. */
export { type MintTokenOptions, mintToken } from "../auth/token-minter.js";
export {
  type ConnectClientOptions,
  type ConnectProtocol,
  createConnectClient,
} from "./connect-client.js";
export {
  createGrpcJsClient,
  type GrpcJsCallOptions,
  type GrpcJsClient,
  type GrpcJsClientOptions,
} from "./grpc-js-client.js";
export { type ClientTokenOptions, createTokenSource, type TokenSource } from "./token-source.js";
