/**
 * Where a scheduled export goes: an object in an S3-compatible bucket (multipart upload
 * through lib-storage, so at most `queueSize × partSize` bytes are held), or a PUT to
 * an HTTP(S) URL with a chunked body. Both read the export as it is produced.
 */
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface S3Target {
  kind: "s3";
  bucket: string;
  key: string;
  region?: string;
  endpoint?: string;
  force_path_style?: boolean;
}

export interface S3Credentials {
  access_key_id: string;
  secret_access_key: string;
}

export interface HttpTarget {
  kind: "http";
  url: string;
}

const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;
const DEFAULT_REGION = "us-east-1";

/** The failure of an upload, with the service's own words where it gave some. */
export class UploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UploadError";
  }
}

function s3Message(e: unknown): string {
  const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  const name = err.name && err.name !== "Error" ? `${err.name}: ` : "";
  return `${name}${err.message ?? String(e)}${status ? ` (HTTP ${status})` : ""}`;
}

/** Uploads `body` to `s3://bucket/key`; answers that location. */
export async function uploadS3(
  target: S3Target,
  creds: S3Credentials,
  key: string,
  body: AsyncIterable<Buffer>,
  contentType: string,
): Promise<string> {
  // Loaded by the first upload: the AWS SDK takes over a second to load, which a server
  // without S3 schedules would pay at every start.
  const [{ S3Client }, { Upload }] = await Promise.all([
    import("@aws-sdk/client-s3"),
    import("@aws-sdk/lib-storage"),
  ]);
  const client = new S3Client({
    region: target.region ?? DEFAULT_REGION,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    forcePathStyle: target.force_path_style ?? target.endpoint !== undefined,
    credentials: { accessKeyId: creds.access_key_id, secretAccessKey: creds.secret_access_key },
    // Checksums only where the API requires them: many S3-compatible servers refuse the
    // trailing-checksum chunked encoding the SDK sends by default since early 2025.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
  });
  try {
    const upload = new Upload({
      client,
      params: { Bucket: target.bucket, Key: key, Body: Readable.from(body), ContentType: contentType },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      // A failed multipart upload is aborted, so its parts are not billed forever.
      leavePartsOnError: false,
    });
    await upload.done();
    return `s3://${target.bucket}/${key}`;
  } catch (e) {
    throw new UploadError(s3Message(e));
  } finally {
    client.destroy();
  }
}

/** Silence on the connection longer than this fails the upload. */
const HTTP_IDLE_MS = 60_000;
const ANSWER_SNIPPET = 300;

/**
 * PUTs `body` to `url` with chunked transfer encoding; a 2xx answer is success.
 * Redirects are not followed: the body is streamed once and cannot be sent again.
 */
export async function uploadHttp(
  url: string,
  headers: Record<string, string>,
  body: AsyncIterable<Buffer>,
  contentType: string,
  idleMs = HTTP_IDLE_MS,
): Promise<void> {
  const u = new URL(url);
  const send = u.protocol === "https:" ? https.request : http.request;
  const answered = new Promise<void>((resolve, reject) => {
    const req = send(u, { method: "PUT", headers: { "content-type": contentType, ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        if (text.length < ANSWER_SNIPPET) text += d;
      });
      res.on("error", reject);
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else {
          const said = text.trim().slice(0, ANSWER_SNIPPET);
          reject(
            new UploadError(`PUT ${u.origin}${u.pathname} answered ${status}${said ? `: ${said}` : ""}`),
          );
        }
      });
    });
    req.setTimeout(idleMs, () =>
      req.destroy(new UploadError(`PUT ${u.origin}${u.pathname}: no progress for ${idleMs / 1000} s`)),
    );
    req.on("error", (e) =>
      reject(e instanceof UploadError ? e : new UploadError(`PUT ${u.origin}${u.pathname}: ${e.message}`)),
    );
    pipeline(Readable.from(body), req).catch((e: Error) =>
      reject(e instanceof UploadError ? e : new UploadError(`PUT ${u.origin}${u.pathname}: ${e.message}`)),
    );
  });
  await answered;
}
