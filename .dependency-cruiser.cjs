/**
 * Dependency direction: transport (server, http, rpc, rest) -> service -> face pipeline,
 * templates, store, auth; never back. The lower layers import neither Connect nor gen/.
 */
const lower = "^src/(face|store|templates|auth)/";
module.exports = {
  forbidden: [
    { name: "no-cycles", severity: "error", from: {}, to: { circular: true } },
    {
      name: "lower-layers-stay-transport-free",
      comment: "face, store, templates and auth never import Connect, grpc-js or generated code",
      severity: "error",
      from: { path: lower },
      to: { path: ["^gen/", "node_modules/@connectrpc/", "node_modules/@grpc/"] },
    },
    {
      name: "no-upward-imports",
      comment: "nothing below the transport imports the transport or the composition root",
      severity: "error",
      from: { path: ["^src/(face|store|templates|auth|service)/"] },
      to: { path: ["^src/(rpc|rest|http|cli|client)/", "^src/(server|app|main)\\.ts$"] },
    },
    {
      name: "client-package-stands-alone",
      comment: "@facevault/client ships on its own: it imports only its own files and gen/",
      severity: "error",
      from: { path: "^packages/client/" },
      to: { path: ["^src/", "^test/", "^tools/"] },
    },
    {
      name: "service-is-protocol-free",
      comment: "the service uses generated message types but never Connect itself",
      severity: "error",
      from: { path: "^src/service/" },
      to: { path: ["node_modules/@connectrpc/", "node_modules/@grpc/"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.(test|contract)\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
    },
  },
};
