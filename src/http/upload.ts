/**
 * A file uploaded as a streamed request body, read by a job while it arrives.
 *
 * The answer waits for the end of the upload: a client stops sending a request body
 * once the answer to it is complete (Node's fetch, undici, keeps the connection open
 * and simply writes no more), so a `202` sent after the first chunk would leave the job
 * waiting for the rest of a file that never comes, until the server's request timeout.
 */
import { finished, type PassThrough, type Readable } from "node:stream";

/** Why a job's file ended early: the connection closed or failed before the body's end. */
export const UPLOAD_CUT_OFF = "the upload was cut off before the end of the file";

/**
 * Feeds `body` into `into` (with backpressure: the job's reading paces the upload) and
 * resolves once the body was read to its end or failed; it never rejects. A body that
 * fails destroys `into` with an error the job reports. When the job stops reading
 * before the end (it failed on its options or a row), the rest of the body is read and
 * dropped, so that the answer can still be sent on this connection.
 */
export function receiveUpload(body: Readable, into: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    finished(body, (e) => {
      if (e) into.destroy(new Error(UPLOAD_CUT_OFF, { cause: e }));
      resolve();
    });
    into.once("close", () => {
      if (body.readableEnded) return;
      body.unpipe(into);
      body.resume();
    });
    body.pipe(into);
  });
}
