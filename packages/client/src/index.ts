/**
 * @facevault/client: typed clients for facevault (and any BWS 3 FaceRecognition service) over
 * grpc-js, Connect, gRPC and gRPC-Web, and BWS token minting. Depends only on protobuf-es,
 * Connect, grpc-js and jose: none of the server's engines or databases come with it.
 */

// The contract's messages, enums and service descriptor, for typed requests and answers.
export * from "../../../gen/bioid/services/v1/bws_common_pb.js";
export * from "../../../gen/bioid/services/v1/face_recognition_pb.js";
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
export { bwsAudience, type MintTokenOptions, mintToken } from "./token-minter.js";
export { type ClientTokenOptions, createTokenSource, type TokenSource } from "./token-source.js";
