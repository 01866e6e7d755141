/**
 * TLS built in: HTTP/2 and HTTP/1.1 on one port chosen by ALPN, so gRPC clients that insist on
 * TLS connect without a proxy, and a new certificate is taken without a restart.
 */

import { copyFileSync, mkdtempSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { createConnectClient, createGrpcJsClient } from "@facevault/client";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/test-server.js";
import { makeTestCertificate, type TestCertificate } from "./support/tls-certificates.js";

let server: TestServer;
let first: TestCertificate;
let second: TestCertificate;
let token: string;
let port: number;
const dir = mkdtempSync(join(tmpdir(), "facevault-tls-"));

beforeAll(async () => {
  first = makeTestCertificate(dir, "first");
  second = makeTestCertificate(dir, "second");
  const live = { certFile: join(dir, "live.crt"), keyFile: join(dir, "live.key") };
  copyFileSync(first.certFile, live.certFile);
  copyFileSync(first.keyFile, live.keyFile);
  server = await startTestServer({ config: { tls: live } });
  token = await server.token(server.clients.alice);
  port = Number(server.address.split(":")[1]);
});
afterAll(async () => server?.close());

/** What a TLS handshake offering `protocols` agrees on, and the certificate shown. */
function handshake(protocols: string[]): Promise<{ alpn: string | false; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: "127.0.0.1",
        port,
        ALPNProtocols: protocols,
        ca: [first.cert, second.cert],
        servername: "localhost",
      },
      () => {
        resolve({
          alpn: socket.alpnProtocol ?? false,
          fingerprint: socket.getPeerX509Certificate()?.fingerprint256 ?? "",
        });
        socket.end();
      },
    );
    socket.on("error", reject);
  });
}

describe("TLS", () => {
  it("negotiates h2 and http/1.1 on the same port", async () => {
    expect((await handshake(["h2", "http/1.1"])).alpn).toBe("h2");
    expect((await handshake(["http/1.1"])).alpn).toBe("http/1.1");
  });

  it("serves gRPC over TLS to grpc-js and Connect's gRPC transport", async () => {
    const grpc = createGrpcJsClient({
      address: `localhost:${port}`,
      credentials: credentials.createSsl(first.cert),
      token,
    });
    const status = await grpc.getTemplateStatus({ classId: 7n });
    expect(status.available).toBe(false);
    grpc.close();
    const connectGrpc = createConnectClient({
      baseUrl: `https://localhost:${port}`,
      protocol: "grpc",
      token,
      tls: { ca: first.cert },
    });
    expect((await connectGrpc.getTemplateStatus({ classId: 7n })).classId).toBe(7n);
  });

  it("serves REST over HTTP/1.1 with TLS", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/api/face/v1/template/status/7",
          ca: first.cert,
          servername: "localhost",
          headers: { authorization: `Bearer ${token}` },
        },
        (res) => {
          let text = "";
          res.on("data", (d: Buffer) => {
            text += d;
          });
          res.on("end", () =>
            resolve(`${res.statusCode} ${res.headers.jobid ? "jobid" : ""} ${text}`),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(body).toMatch(/^200 jobid \{"classId":7,"available":false/);
  });

  it("takes a new certificate for new connections without a restart", async () => {
    expect((await handshake(["h2"])).fingerprint).toBe(first.fingerprint);
    copyFileSync(second.certFile, join(dir, "live.crt"));
    copyFileSync(second.keyFile, join(dir, "live.key"));
    server.app.reloadTls();
    expect((await handshake(["h2"])).fingerprint).toBe(second.fingerprint);
  });
});
