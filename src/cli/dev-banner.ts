import type { AddressInfo } from "node:net";
import type { FacevaultConfig } from "../config.js";

/** What development mode prints at start: the client and a curl line ready to paste. */
export function devBanner(config: FacevaultConfig, address: AddressInfo, script: string): string {
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const base = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${address.port}`;
  const client = config.clients[0];
  const token = `FACEVAULT_DATA_DIR='${config.dataDir}' node '${script}' token`;
  return `
facevault is running in development mode (no --config given).
  data dir:  ${config.dataDir}  (dev client and master key, mode 0600)
  database:  ${config.database}
  client id: ${client?.clientId ?? "?"}  (storage ${client?.storage}, partition ${client?.partition})
  listening: ${base}  (gRPC, Connect, gRPC-Web and the JSON Web API)

Try it:
  TOKEN=$(${token})
  curl -s -H "Authorization: Bearer $TOKEN" ${base}/api/face/v1/template/status/1
  (printf '[{"image":"'; base64 -w0 your-photo.jpg; printf '"}]') | curl -s -X POST \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    --data-binary @- ${base}/api/face/v1/enroll/1
`;
}
