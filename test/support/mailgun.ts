/** Posting signed Mailgun webhooks to a receiver, for tests of the CLI and the web app. */
import { createHmac, randomUUID } from "node:crypto";

/** Posts one Mailgun `delivered` event to a receiver's URL, signed with `signingKey`; answers the status. */
export async function postMailgun(url: string, signingKey: string, recipient: string): Promise<number> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const token = randomUUID().replaceAll("-", "");
  const signature = createHmac("sha256", signingKey)
    .update(timestamp + token)
    .digest("hex");
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      signature: { timestamp, token, signature },
      "event-data": { id: randomUUID(), event: "delivered", timestamp: Number(timestamp), recipient },
    }),
  });
  await res.arrayBuffer();
  return res.status;
}
