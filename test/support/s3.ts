/**
 * A local S3-compatible server (s3rver) on 127.0.0.1 and a free port, storing in a
 * temporary directory, with the credentials it accepts (`S3RVER`/`S3RVER`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The part of s3rver's API used here (the package ships no types). */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverServer;

const S3rver = createRequire(import.meta.url)("s3rver") as S3rverCtor;

export const S3_ACCESS_KEY_ID = "S3RVER";
export const S3_SECRET_ACCESS_KEY = "S3RVER";

export interface LocalS3 {
  /** e.g. `http://127.0.0.1:43121`; buckets are addressed by path. */
  endpoint: string;
  stop(): Promise<void>;
}

export async function startS3(buckets: string[] = []): Promise<LocalS3> {
  const dir = mkdtempSync(join(tmpdir(), "slice-s3-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
