import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as run } from "../support/cli.ts";
import { ADMIN_KEY, eventually, type Json, startTestServer, type TestServer } from "../support/server.ts";
import { type HttpStandIn, startHttpStandIn } from "../support/standins/http.ts";

const SECRET_KEY = "cli-destinations-secret-key";

/** The table row whose first column is `id`. */
const rowOf = (stdout: string, id: string): string | undefined =>
  stdout.split("\n").find((l) => l.split(/\s+/)[0] === id);

describe("slice destinations", () => {
  let t: TestServer;
  let stand: HttpStandIn;
  let env: Record<string, string>;
  let segmentId: string;
  let dir: string;
  const slice = (...args: string[]) => run(args, env);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slice-cli-dst-"));
    stand = await startHttpStandIn();
    t = await startTestServer({ kind: "sqlite" }, { secretKey: SECRET_KEY, destinationPollMs: 50 });
    env = { SLICE_URL: t.url, SLICE_API_KEY: ADMIN_KEY };
    const batch = await t.call("POST", "/v1/contacts/batch", {
      contacts: [
        { email: "ana@example.com", country: "FR", status: "subscribed" },
        { email: "bo@example.com", country: "FR", status: "subscribed" },
        { email: "cy@example.com", country: "FR", status: "unsubscribed" },
        { email: "dee@example.com", country: "DE", status: "subscribed" },
      ],
    });
    expect(batch.status, batch.text).toBe(200);
    const s = await t.call("POST", "/v1/segments", {
      name: "France",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });
    expect(s.status).toBe(201);
    segmentId = s.body.id;
  });
  afterAll(async () => {
    await t?.stop();
    await stand?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lists its commands in help", async () => {
    const top = await run(["destinations", "--help"], {});
    for (const c of ["list", "show", "create", "pause", "resume", "delete", "dry-run", "runs", "outcomes"]) {
      expect(top.stdout).toContain(c);
    }
    const create = await run(["destinations", "create", "--help"], {});
    for (const o of ["--name", "--kind", "--segment", "--config", "--config-file", "--paused"]) {
      expect(create.stdout).toContain(o);
    }
  });

  it("prints a signing secret Slice made once, and never again", async () => {
    const config = { add_url: stand.config.add_url, remove_url: stand.config.remove_url };
    const made = await slice(
      "destinations",
      "create",
      "--name",
      "Made secret",
      "--kind",
      "http",
      "--segment",
      segmentId,
      "--config",
      JSON.stringify(config),
      "--paused",
    );
    expect(made.code, made.stderr).toBe(0);
    const [id, secret, ...rest] = made.stdout.trim().split("\n");
    expect(rest).toEqual([]);
    expect(id).toMatch(/\S/);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    expect(made.stderr).toContain("shown once");

    const show = await slice("destinations", "show", id!);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(stand.config.add_url);
    expect(show.stdout).not.toContain(secret);
    const list = await slice("destinations", "list", "--json");
    expect(list.stdout).not.toContain(secret);

    const del = await slice("destinations", "delete", id!);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toContain(`deleted destination ${id}`);
    const gone = await slice("destinations", "show", id!);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: .*not found/);
  });

  it("creates paused, dry-runs, resumes, syncs, shows runs and outcomes, pauses", async () => {
    // The stand-in verifies with its own secret, so it is given (and then not printed back).
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify(stand.config));
    const made = await slice(
      "destinations",
      "create",
      "--name",
      "CRM",
      "--kind",
      "http",
      "--segment",
      segmentId,
      "--config-file",
      file,
      "--paused",
    );
    expect(made.code, made.stderr).toBe(0);
    const lines = made.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const id = lines[0]!;
    expect(made.stdout).not.toContain(stand.secret);

    const list = await slice("destinations", "list");
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+KIND\s+SEGMENT\s+STATE\s+PENDING\s+LAST SYNC\s+LAST ERROR/);
    expect(rowOf(list.stdout, id)).toMatch(
      new RegExp(`CRM\\s+http\\s+${segmentId}\\s+paused\\s+\\+3/-0\\s+never`),
    );

    const dry = await slice("destinations", "dry-run", id);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^would_add:\s+3$/m);
    expect(dry.stdout).toMatch(/^would_remove:\s+0$/m);
    const requests = JSON.parse(dry.stdout.slice(dry.stdout.indexOf("["))) as Json[];
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "POST", url: stand.config.add_url, rows: 3 });
    expect(JSON.stringify(requests)).not.toContain(stand.secret);
    expect(stand.calls).toEqual([]);

    const resumed = await slice("destinations", "resume", id);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`resumed destination ${id}`);
    await eventually(() => stand.audience().size === 3, 10_000, "the first sync");
    expect(stand.violations).toEqual([]);

    const full = await eventually(
      async () => {
        const r = await slice("destinations", "runs", id, "--json");
        return ((JSON.parse(r.stdout) as Json).data as Json[]).find(
          (x) => x.kind === "full" && x.state === "succeeded",
        );
      },
      10_000,
      "the full run",
    );
    const runs = await slice("destinations", "runs", id);
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(/^RUN\s+KIND\s+STATE\s+ADDED\s+REMOVED\s+FAILED\s+SKIPPED\s+STARTED/);
    expect(rowOf(runs.stdout, full.id)).toMatch(/full\s+succeeded\s+3\s+0\s+0\s+0\s+\d{4}-/);
    expect(runs.stdout).toMatch(/dry_run\s+succeeded/);
    const limited = await slice("destinations", "runs", id, "--limit", "1");
    expect(limited.stdout.trim().split("\n")).toHaveLength(2);

    const live = await eventually(
      async () => {
        const l = await slice("destinations", "list");
        const row = rowOf(l.stdout, id);
        return row && /\blive\b/.test(row) ? row : undefined;
      },
      10_000,
      "state live",
    );
    expect(live).toMatch(/\+0\/-0\s+\d{4}-/);

    const outcomes = await slice("destinations", "outcomes", id, full.id);
    expect(outcomes.code, outcomes.stderr).toBe(0);
    expect(outcomes.stdout).toMatch(/^CONTACT\s+OP\s+STATUS\s+AT\s+ERROR/);
    expect(outcomes.stdout.split("\n").filter((l) => /\sadd\s+ok\s/.test(l))).toHaveLength(3);
    const failed = await slice("destinations", "outcomes", id, full.id, "--status", "failed");
    expect(failed.code, failed.stderr).toBe(0);
    expect(failed.stdout.trim()).toBe("no failed outcomes");

    const show = await slice("destinations", "show", id);
    expect(show.stdout).toMatch(/^state:\s+live$/m);
    expect(show.stdout).toMatch(/^counters:\s+3 added, 0 removed, 0 failed, 0 skipped$/m);
    expect(show.stdout).toContain("recent runs (newest first):");
    expect(show.stdout).toContain(full.id);

    const paused = await slice("destinations", "pause", id);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain(`paused destination ${id}: paused`);
    expect(rowOf((await slice("destinations", "list")).stdout, id)).toMatch(/\bpaused\b/);
    const json = JSON.parse((await slice("destinations", "show", id, "--json")).stdout) as Json;
    expect(json).toMatchObject({ id, state: "paused", counters: { added: 3 } });
    expect(json.recent_runs.length).toBeGreaterThan(0);
  });

  it("shows the server's refusal of a bad config with its path, and refuses bad JSON itself", async () => {
    const bad = await slice(
      "destinations",
      "create",
      "--name",
      "Bad",
      "--kind",
      "http",
      "--segment",
      segmentId,
      "--config",
      JSON.stringify({ add_url: "not a url", remove_url: stand.config.remove_url }),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("error: config.add_url: add_url must be an absolute http or https URL\n");

    const notJson = await slice(
      "destinations",
      "create",
      "--name",
      "Bad",
      "--kind",
      "http",
      "--segment",
      segmentId,
      "--config",
      "{add_url:",
    );
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/^error: --config: invalid JSON/);

    const none = await slice(
      "destinations",
      "create",
      "--name",
      "x",
      "--kind",
      "http",
      "--segment",
      segmentId,
    );
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("give --config <json> or --config-file <file>");

    const kind = await slice(
      "destinations",
      "create",
      "--name",
      "x",
      "--kind",
      "ftp",
      "--segment",
      segmentId,
    );
    expect(kind.code).not.toBe(0);
    expect(kind.stderr).toContain("expected one of http, mailchimp, brevo, kit, meta, google");

    const list = JSON.parse((await slice("destinations", "list", "--json")).stdout) as Json[];
    expect(list.some((d) => d.name === "Bad")).toBe(false);
  });
});
