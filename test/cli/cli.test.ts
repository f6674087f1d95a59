/**
 * The `slice` CLI end to end: the real command (`node bin/slice.js …`, as `npx slice`
 * runs it) against a real server on a free port, and `slice serve --demo` started and
 * stopped as a process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, type Json, startTestServer, type TestServer } from "../support/server.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin", "slice.js");

/** The environment of a child: none of the settings of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["SLICE_URL", "SLICE_API_KEY", "SLICE_DB", "DATABASE_URL", "PORT", "HOST", "FORCE_COLOR"]) {
    delete env[k];
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv(env) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

describe("slice CLI against a running server", () => {
  let t: TestServer;
  let dir: string;
  let env: Record<string, string>;
  /** slice with SLICE_URL and SLICE_API_KEY of the test server. */
  const slice = (...args: string[]) => run(args, env);
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestServer({ kind: "sqlite" });
    dir = mkdtempSync(join(tmpdir(), "slice-cli-"));
    env = { SLICE_URL: t.url, SLICE_API_KEY: ADMIN_KEY };
    for (const [name, email, country] of [
      ["ana", "ana@example.com", "FR"],
      ["bob", "bob@example.com", "FR"],
      ["cy", "cy@example.com", "US"],
    ] as const) {
      const r = await t.call("POST", "/v1/contacts", {
        email,
        first_name: name,
        country,
        status: "subscribed",
      });
      expect(r.status).toBe(201);
      ids[name] = r.body.id;
    }
    const ev = await t.call("POST", "/v1/events", [
      { type: "order_placed", contact: { email: "ana@example.com" }, properties: { amount: 150 } },
      { type: "order_placed", contact: { email: "ana@example.com" }, properties: { amount: 100 } },
      { type: "order_placed", contact: { email: "bob@example.com" }, properties: { amount: 20 } },
    ]);
    expect(ev.body.accepted).toBe(3);
  });

  afterAll(async () => {
    await t?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("prints help for the program and every command", async () => {
    const top = await run(["--help"]);
    expect(top.code).toBe(0);
    for (const c of ["serve", "import", "segments", "explain", "keys"]) expect(top.stdout).toContain(c);
    expect(top.stdout).toContain("SLICE_URL");

    const create = await run(["segments", "create", "--help"]);
    expect(create.code).toBe(0);
    for (const o of ["--name", "--rule <rule>", "--rule-file", "--static", "--url", "--key"]) {
      expect(create.stdout).toContain(o);
    }
    const serve = await run(["serve", "--help"]);
    expect(serve.stdout).toMatch(/--port.*\n?.*PORT/);
    for (const o of ["--db", "--database-url", "--api-key", "--demo", "--demo-contacts"]) {
      expect(serve.stdout).toContain(o);
    }
    for (const sub of [
      ["import", "--help"],
      ["segments", "export", "--help"],
      ["explain", "--help"],
      ["keys", "create", "--help"],
    ]) {
      const r = await run(sub);
      expect(r.code, sub.join(" ")).toBe(0);
      expect(r.stdout).toContain("Usage: slice");
    }
  });

  it("creates, lists and previews segments", async () => {
    const rule = {
      type: "and",
      conditions: [
        { type: "field", field: "country", op: "eq", value: "FR" },
        {
          type: "event",
          event: "order_placed",
          window: { in_last: "30d" },
          measure: { fn: "sum", property: "amount" },
          op: "gt",
          value: 200,
        },
      ],
    };
    const c = await slice(
      "segments",
      "create",
      "--name",
      "French big buyers",
      "--rule",
      JSON.stringify(rule),
    );
    expect(c.stderr).toBe("");
    expect(c.code).toBe(0);
    const m = /created (seg_\w+) "French big buyers" \(dynamic\): 1 members/.exec(c.stdout);
    expect(m, c.stdout).not.toBeNull();
    ids.bigBuyers = m![1]!;

    // --rule-file, and --url / --key flags instead of the environment.
    const file = join(dir, "fr.json");
    writeFileSync(file, JSON.stringify({ type: "field", field: "country", op: "eq", value: "FR" }));
    const f = await run([
      "segments",
      "create",
      "--name",
      "In France",
      "--rule-file",
      file,
      "--url",
      t.url,
      "--key",
      ADMIN_KEY,
    ]);
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/created seg_\w+ "In France" \(dynamic\): 2 members/);

    const s = await slice("segments", "create", "--name", "Imported", "--static");
    expect(s.code).toBe(0);
    ids.imported = /created (seg_\w+)/.exec(s.stdout)![1]!;

    const list = await slice("segments", "list");
    expect(list.code).toBe(0);
    const row = (id: string) => list.stdout.split("\n").find((l) => l.startsWith(`${id} `)) ?? "";
    expect(row(ids.bigBuyers)).toMatch(/French big buyers\s+dynamic\s+1$/);
    expect(row(ids.imported)).toMatch(/Imported\s+static\s+0$/);
    expect(row("all")).toMatch(/All Contacts\s+default\s+3$/);

    const json = await slice("segments", "list", "--json");
    const data = JSON.parse(json.stdout) as Json[];
    expect(data.find((x) => x.id === ids.bigBuyers).size).toBe(1);

    const p = await slice("segments", "preview", "--rule", JSON.stringify(rule.conditions[0]));
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^2 contacts match/);
    expect(p.stdout).toContain("ana@example.com");
    expect(p.stdout).toContain("bob@example.com");
    expect(p.stdout).not.toContain("cy@example.com");

    // The text form: --rule takes it as well, and `segments show` prints it.
    const t2 = await slice("segments", "create", "--name", "FR text", "--rule", 'country = "FR"');
    expect(t2.code, t2.stderr).toBe(0);
    const textId = /created (seg_\w+) "FR text" \(dynamic\): 2 members/.exec(t2.stdout)![1]!;
    const shown = await slice("segments", "show", textId);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('  country = "FR"');
    const big = await slice("segments", "show", ids.bigBuyers!);
    expect(big.stdout).toContain("sum(order_placed.amount");
    const badText = await slice("segments", "preview", "--rule", 'country = "FR" and');
    expect(badText.code).toBe(1);
    expect(badText.stderr).toMatch(/^error: rule_text: line 1, column \d+: /);
  });

  it("imports a CSV, following it to the end and printing the rejected row", async () => {
    const csv = join(dir, "contacts.csv");
    writeFileSync(
      csv,
      "Email,First Name,Country\ndee@example.com,Dee,DE\nnot-an-email,Eve,FR\nfay@example.com,Fay,FR\n",
    );
    const r = await slice("import", csv, "--segment", ids.imported!, "--wait");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/import imp_\w+ done: 3 of 3 rows processed: 2 accepted, 1 rejected/);
    expect(r.stdout).toContain("rejected rows:");
    expect(r.stdout).toMatch(/row 3: .*not-an-email/);
    const members = await t.call("GET", `/v1/segments/${ids.imported}/contacts`);
    expect(members.body.data.map((c: Json) => c.email).sort()).toEqual([
      "dee@example.com",
      "fay@example.com",
    ]);

    // Without --wait: the job is started and named.
    const events = join(dir, "events.ndjson");
    writeFileSync(
      events,
      `${JSON.stringify({ type: "page_viewed", contact: { email: "cy@example.com" } })}\n`,
    );
    const e = await slice("import", events);
    expect(e.code).toBe(0);
    const id = /import (imp_\w+)/.exec(e.stdout)![1]!;
    const shown = await slice("imports", "show", id, "--wait");
    expect(shown.stdout).toMatch(/done: 1 of 1 rows processed: 1 accepted, 0 rejected/);
  });

  it("imports day/month/year dates with --date-format, and names a bad format", async () => {
    const csv = join(dir, "dates.csv");
    writeFileSync(csv, "Email,Subscribed At\ndee@example.com,13/12/2025\n");
    const r = await slice("import", csv, "--date-format", "DD/MM/YYYY", "--wait");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/done: 1 of 1 rows processed: 1 accepted, 0 rejected/);
    const dee = await t.call("GET", "/v1/contacts?email=dee%40example.com");
    expect(dee.body.data[0].subscribed_at).toMatch(/^2025-12-1[23]T/);

    const bad = await slice("import", csv, "--date-format", "YYYY.MM", "--wait");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: date_format: expected one of/);
  });

  it("exports a segment to a file and to stdout", async () => {
    const out = join(dir, "fr.csv");
    const r = await slice("segments", "export", ids.bigBuyers!, "--out", out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`to ${out}`);
    const lines = readFileSync(out, "utf8").trim().split(/\r?\n/);
    expect(lines[0]).toMatch(/^id,email,/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain("ana@example.com");

    const nd = await slice("segments", "export", "all", "--format", "ndjson");
    expect(nd.code).toBe(0);
    const emails = nd.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).email)
      .sort();
    expect(emails).toEqual([
      "ana@example.com",
      "bob@example.com",
      "cy@example.com",
      "dee@example.com",
      "fay@example.com",
    ]);
  });

  it("explains a contact as a tree of ✓ and ✗ with measured and needed values", async () => {
    const inside = await slice("explain", ids.ana!, "--segment", ids.bigBuyers!);
    expect(inside.code, inside.stderr).toBe(0);
    expect(inside.stdout).toContain(`${ids.ana} is in "French big buyers" (${ids.bigBuyers})`);
    expect(inside.stdout).toContain("✓ all of");
    // The engine measures strings as it compares them (SPEC §3.2: ignoring case).
    expect(inside.stdout).toMatch(/✓ country: measured "fr", needed = "FR"/i);
    expect(inside.stdout).toContain("✓ order_placed sum(amount) in the last 30d: measured 250, needed > 200");
    expect(inside.stdout).not.toContain("\u001b[");

    const outside = await run(["explain", ids.bob!, "--segment", ids.bigBuyers!], {
      ...env,
      FORCE_COLOR: "1",
      NO_COLOR: "",
    });
    expect(outside.code).toBe(0);
    expect(outside.stdout).toContain("is not in");
    expect(outside.stdout).toContain("✗ order_placed sum(amount) in the last 30d: measured 20, needed > 200");
    expect(outside.stdout).toContain("\u001b[31m✗"); // red
    expect(outside.stdout).toContain("\u001b[32m✓ country"); // green
  });

  it("explains a hand override as the reason, above what the rule alone says", async () => {
    const until = new Date(Date.now() + 10 * 86_400_000).toISOString();
    const add = await t.call("POST", `/v1/segments/${ids.bigBuyers}/members`, {
      contacts: [{ id: ids.bob }],
      expires_at: until,
    });
    expect(add.status, add.text).toBeLessThan(300);
    try {
      const r = await slice("explain", ids.bob!, "--segment", ids.bigBuyers!);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`${ids.bob} is in "French big buyers"`);
      expect(r.stdout).toContain(`  added by hand until ${until}; what the rule alone says:\n  ✗ all of`);
    } finally {
      const lift = await t.call("DELETE", `/v1/segments/${ids.bigBuyers}/overrides`, {
        contacts: [{ id: ids.bob }],
      });
      expect(lift.status, lift.text).toBeLessThan(300);
    }
  });

  it("explains a sequence with a step not done: the deadline passed, or when it would pass", async () => {
    const now = Date.now();
    const ago = (minutes: number) => new Date(now - minutes * 60_000).toISOString();
    const carts: Record<string, string> = {};
    for (const [name, minutes] of [
      ["gone", 120],
      ["fresh", 10],
    ] as const) {
      const r = await t.call("POST", "/v1/contacts", { email: `${name}-cart@example.com` });
      expect(r.status).toBe(201);
      carts[name] = r.body.id;
      const ev = await t.call("POST", "/v1/events", [
        { type: "cart_added", contact: { id: r.body.id }, timestamp: ago(minutes) },
      ]);
      expect(ev.status, ev.text).toBe(200);
      expect(ev.body.errors).toEqual([]);
    }
    const seg = await t.call("POST", "/v1/segments", {
      name: "Cart abandoned",
      rule: {
        type: "sequence",
        steps: [{ event: "cart_added" }, { event: "order_placed", not: true }],
        within: "1h",
        window: { in_last: "30d" },
      },
    });
    expect(seg.status, seg.text).toBe(201);

    const gone = await slice("explain", carts.gone!, "--segment", seg.body.id);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain("is in");
    expect(gone.stdout).toContain(
      `✓ sequence cart_added → not order_placed within 1h in the last 30d: completed at ${ago(60)}\n`,
    );

    const fresh = await slice("explain", carts.fresh!, "--segment", seg.body.id);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).toContain("is not in");
    expect(fresh.stdout).toContain(
      `✗ sequence cart_added → not order_placed within 1h in the last 30d: not completed, pending until ${ago(-50)}\n`,
    );
  });

  it("creates an API key that works", async () => {
    const r = await slice("keys", "create", "--name", "from the cli");
    expect(r.code).toBe(0);
    const key = r.stdout.trim();
    expect(key).not.toBe("");
    expect(r.stderr).toContain('"from the cli"');
    const ok = await t.call("GET", "/v1/segments", undefined, { key });
    expect(ok.status).toBe(200);
  });

  it("prints API errors as `error: <message>` with exit code 1", async () => {
    const bad = await slice("segments", "create", "--name", "x", "--rule", '{"type":"and","conditions":[]}');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: rule\.conditions/);
    expect(bad.stdout).toBe("");

    const missing = await slice("explain", ids.ana!, "--segment", "seg_nope");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('error: segment "seg_nope" not found\n');

    const unauth = await run(["segments", "list"], {
      SLICE_URL: t.url,
      SLICE_API_KEY: "sk_wrong_0123456789abcdef",
    });
    expect(unauth.code).toBe(1);
    expect(unauth.stderr).toMatch(/^error: unknown or revoked API key/);

    const json = await slice("segments", "preview", "--rule", "{nope");
    expect(json.code).toBe(1);
    expect(json.stderr).toMatch(/^error: --rule: invalid JSON/);

    const down = await run(["segments", "list", "--url", "http://127.0.0.1:9"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error: cannot reach Slice at http:\/\/127\.0\.0\.1:9/);
  });
});

describe("slice serve", () => {
  let child: ChildProcess | null = null;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "slice-serve-"));
  });
  afterAll(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts with demo data, prints its URL, answers, and stops on SIGTERM", async () => {
    const key = "sk_cli_serve_test_0123456789";
    const db = join(dir, "demo.db");
    const proc = spawn(
      process.execPath,
      [BIN, "serve", "--port", "0", "--db", db, "--demo", "--demo-contacts", "500", "--api-key", key],
      { cwd: ROOT, env: cleanEnv({ PORT: "1" }) }, // the flag overrides PORT
    );
    child = proc;
    let stdout = "";
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed:\n${stdout}\n${stderr}`)), 90_000);
      proc.stdout!.on("data", (d: Buffer) => {
        stdout += d.toString();
        const m = /serving on (http:\/\/\S+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      proc.on("exit", (code) => reject(new Error(`exited with ${code}:\n${stdout}\n${stderr}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:1$/);
    expect(stdout).toContain("demo: contacts 500 / 500");
    expect(stdout).toContain("demo: events 5,000 / 5,000");

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);

    const segs = await fetch(`${url}/v1/segments`, { headers: { authorization: `Bearer ${key}` } });
    const names = ((await segs.json()) as Json).data.map((s: Json) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "Engaged buyers in France",
        "Subscribed, no open in 90 days",
        "Big spenders, nothing this month",
      ]),
    );
    const all = (
      (await (
        await fetch(`${url}/v1/segments/all`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as Json
    ).size;
    expect(all).toBe(500);

    // The client commands reach it too.
    const list = await run(["segments", "list", "--url", url, "--key", key]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("Big spenders, nothing this month");

    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout).toContain("stopped");
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it("does not load demo data into a workspace that has contacts", async () => {
    const key = "sk_cli_serve_test_0123456789";
    const db = join(dir, "demo.db");
    const proc = spawn(
      process.execPath,
      [BIN, "serve", "--port", "0", "--db", db, "--demo", "--api-key", key],
      {
        cwd: ROOT,
        env: cleanEnv(),
      },
    );
    child = proc;
    let stdout = "";
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes("serving on")) resolve();
      });
      proc.on("exit", (code) => reject(new Error(`exited with ${code}: ${stdout}`)));
    });
    expect(stdout).toContain("already has 500 contacts; no demo data loaded");
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    proc.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});
