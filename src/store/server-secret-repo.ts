/**
 * Keys the server makes for itself and keeps with its data, so that every process on
 * the same database, and every restart, uses the same one (the log-position key of
 * src/service/log-position.ts). Made once: concurrent first starts agree on the row
 * that was inserted first.
 */
import { randomBytes } from "node:crypto";
import type { Executor } from "./executor.ts";

/** The 32-byte secret called `name`, made now if there is none. */
export async function serverSecret(x: Executor, name: string, now: number): Promise<Buffer> {
  await x.run(
    "INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
    [name, randomBytes(32).toString("base64"), now],
  );
  const rows = await x.all("SELECT value FROM server_secrets WHERE name = ?", [name]);
  return Buffer.from(String(rows[0]!.value), "base64");
}
