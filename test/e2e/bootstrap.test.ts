/**
 * SPEC §5: without SLICE_API_KEY the first start prints a new admin key of the default
 * workspace, once; it works as an admin key; later starts print nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startServer } from "../../src/http/start.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-boot-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("first start", () => {
  it("prints an admin key once, and it works", async () => {
    const lines: string[] = [];
    const sqlitePath = join(dir, "slice.db");
    const first = await startServer({ port: 0, sqlitePath, log: (l) => lines.push(l) });
    const m = lines.join("\n").match(/(slk_[A-Za-z0-9_-]+)/);
    expect(m).not.toBeNull();
    const key = m![1]!;
    const res = await fetch(`${first.url}/v1/workspaces`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Second" }),
    });
    expect(res.status).toBe(201);
    await first.close();

    const again: string[] = [];
    const second = await startServer({ port: 0, sqlitePath, log: (l) => again.push(l) });
    expect(again.join("\n")).not.toMatch(/slk_/);
    const ok = await fetch(`${second.url}/v1/segments`, { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    await second.close();
  });
});
