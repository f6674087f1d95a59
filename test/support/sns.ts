/**
 * Signing SNS messages as Amazon SNS does, for receiver tests. `sns-validator` downloads
 * the signing certificate with `https.get` from the message's SigningCertURL and takes no
 * custom fetcher, so this makes an RSA key and a self-signed certificate with the openssl
 * CLI (node:crypto cannot make certificates), serves the certificate from a local HTTPS
 * server that uses it for TLS too, and trusts it through `https.globalAgent.options.ca`
 * until `stop()`. Adapters must be made with a hostPattern allowing `localhost:<port>`.
 */
import { execFileSync } from "node:child_process";
import { sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type SnsMessage = Record<string, string>;

/** The keys SNS signs, per message type, in the order it signs them. */
const SIGNED_KEYS: Record<string, string[]> = {
  Notification: ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
  SubscriptionConfirmation: [
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
  ],
};

export interface SnsSigner {
  /** `https://localhost:<port>`: the certificate is at `/cert.pem` (any path but `/missing…`). */
  origin: string;
  /** The signing key (PEM). */
  key: string;
  /**
   * Signs as SNS does: "key\nvalue\n" for each signed key present, in order; version 1
   * SHA1withRSA, 2 SHA256withRSA. `signingKey` signs with another key (a forgery).
   */
  sign(
    message: SnsMessage,
    opts?: { version?: "1" | "2"; certPath?: string; signingKey?: string },
  ): SnsMessage;
  stop(): Promise<void>;
}

export async function startSnsSigner(): Promise<SnsSigner> {
  const dir = mkdtempSync(join(tmpdir(), "slice-sns-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  const key = readFileSync(join(dir, "key.pem"), "utf8");
  const cert = readFileSync(join(dir, "cert.pem"), "utf8");
  rmSync(dir, { recursive: true, force: true });
  const server = https.createServer({ key, cert }, (req, res) => {
    if (req.url?.startsWith("/missing")) res.writeHead(404).end();
    else res.writeHead(200, { "content-type": "text/plain" }).end(cert);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `https://localhost:${(server.address() as AddressInfo).port}`;
  const savedCa = https.globalAgent.options.ca;
  https.globalAgent.options.ca = cert;
  return {
    origin,
    key,
    sign(message, opts = {}) {
      const version = opts.version ?? "2";
      const out: SnsMessage = {
        ...message,
        SignatureVersion: version,
        SigningCertURL: `${origin}${opts.certPath ?? "/cert.pem"}`,
      };
      const text = (SIGNED_KEYS[out.Type!] ?? [])
        .filter((k) => k in out)
        .map((k) => `${k}\n${out[k]}\n`)
        .join("");
      out.Signature = sign(
        version === "1" ? "sha1" : "sha256",
        Buffer.from(text),
        opts.signingKey ?? key,
      ).toString("base64");
      return out;
    },
    async stop() {
      https.globalAgent.options.ca = savedCa;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
