import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as run } from "../support/cli.ts";
import { postMailgun } from "../support/mailgun.ts";
import { ADMIN_KEY, type Json, startTestServer, type TestServer } from "../support/server.ts";

describe("slice keys, receivers and sources", () => {
  let t: TestServer;
  let env: Record<string, string>;
  const slice = (...args: string[]) => run(args, env);

  beforeAll(async () => {
    t = await startTestServer({ kind: "sqlite" });
    env = { SLICE_URL: t.url, SLICE_API_KEY: ADMIN_KEY };
    const c = await t.call("POST", "/v1/contacts", { email: "ana@example.com", status: "subscribed" });
    expect(c.status).toBe(201);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("lists its commands in help", async () => {
    const top = await run(["--help"], {});
    for (const c of ["keys", "receivers", "sources"]) expect(top.stdout).toContain(c);
    const create = await run(["receivers", "create", "--help"], {});
    expect(create.code).toBe(0);
    for (const o of ["<provider>", "--public-key", "--signing-key", "--secret", "--topic-arn", "--name"]) {
      expect(create.stdout).toContain(o);
    }
    const keys = await run(["keys", "create", "--help"], {});
    for (const r of ["--role", "read_write", "read_only", "ingest"]) expect(keys.stdout).toContain(r);
  });

  it("creates keys with a role, lists them, and revokes one", async () => {
    const made = await slice("keys", "create", "--name", "sdk", "--role", "ingest");
    expect(made.code, made.stderr).toBe(0);
    const secret = made.stdout.trim();
    expect(secret).not.toBe("");
    expect(made.stderr).toContain('"sdk" (ingest)');
    // The ingest key writes events and reads nothing.
    const write = await t.call(
      "POST",
      "/v1/events",
      { type: "app_opened", contact: { email: "ana@example.com" } },
      { key: secret },
    );
    expect(write.status).toBe(200);
    expect((await t.call("GET", "/v1/segments", undefined, { key: secret })).status).toBe(403);

    const list = await slice("keys", "list");
    expect(list.code).toBe(0);
    // The NAME column (ids are random and may contain "sdk" too).
    const line = list.stdout.split("\n").find((l) => l.split(/\s{2,}/)[1] === "sdk");
    expect(line).toMatch(/\bingest\b/);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+PREFIX\s+ROLE\s+CREATED/);
    expect(list.stdout).not.toContain(secret);

    const json = JSON.parse((await slice("keys", "list", "--json")).stdout) as Json[];
    const sdk = json.find((k) => k.name === "sdk");
    expect(sdk.role).toBe("ingest");
    expect(secret.startsWith(sdk.prefix)).toBe(true);

    const revoked = await slice("keys", "revoke", sdk.id);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked key ${sdk.id}`);
    expect(
      (
        await t.call(
          "POST",
          "/v1/events",
          { type: "x", contact: { email: "ana@example.com" } },
          { key: secret },
        )
      ).status,
    ).toBe(401);
    const after = JSON.parse((await slice("keys", "list", "--json")).stdout) as Json[];
    expect(after.some((k) => k.id === sdk.id)).toBe(false);
  });

  it("refuses a bad role, and shows the server's refusal to revoke the admin key", async () => {
    const bad = await slice("keys", "create", "--role", "owner");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("expected one of read_write, read_only, ingest");

    const rw = (await slice("keys", "create", "--name", "ops")).stdout.trim();
    const keys = JSON.parse((await slice("keys", "list", "--json")).stdout) as Json[];
    const admin = keys.find((k) => k.role === "admin");
    expect(admin).toBeDefined();
    const refused = await run(["keys", "revoke", admin.id], { SLICE_URL: t.url, SLICE_API_KEY: rw });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe("error: no workspace key can revoke the admin key\n");
    expect((await t.call("GET", "/v1/segments")).status).toBe(200);
  });

  it("creates a Mailgun receiver, counts signed and forged deliveries, lists and deletes it", async () => {
    const signingKey = "key-cli-test-0123456789";
    const made = await slice(
      "receivers",
      "create",
      "mailgun",
      "--name",
      "Mailgun prod",
      "--signing-key",
      signingKey,
    );
    expect(made.code, made.stderr).toBe(0);
    const url = made.stdout.trim();
    expect(url).toMatch(new RegExp(`^${t.url.replace(/\./g, "\\.")}/hooks/\\S+$`));
    expect(made.stderr).toContain('"Mailgun prod" (mailgun)');
    const id = url.split("/hooks/")[1]!;

    expect(await postMailgun(url, signingKey, "ana@example.com")).toBe(200);
    expect(await postMailgun(url, "key-forged", "ana@example.com")).toBe(401);

    const show = await slice("receivers", "show", id);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(url);
    expect(show.stdout).toMatch(/accepted:\s+1\n/);
    expect(show.stdout).toMatch(/signature failures:\s+1\n/);
    expect(show.stdout).not.toContain(signingKey);
    expect(show.stdout).toContain("signing_key=(set, never shown)");
    const recent = show.stdout
      .split("recent deliveries")[1]!
      .split("\n")
      .filter((l) => /^\s+\d{4}-/.test(l));
    expect(recent).toHaveLength(2);
    expect(recent[0]).toContain("SIGNATURE FAILED"); // newest first
    expect(recent[1]).toMatch(/accepted\s+1/);

    const shown = JSON.parse((await slice("receivers", "show", id, "--json")).stdout) as Json;
    expect(shown.stats).toMatchObject({ accepted: 1, signature_failures: 1 });

    const list = await slice("receivers", "list");
    const row = list.stdout.split("\n").find((l) => l.startsWith(id));
    expect(row).toMatch(/mailgun\s+Mailgun prod\s+1\s+0\s+1\s+\d{4}-/);
    expect(row).toContain(url);

    const sources = await slice("sources");
    expect(sources.code, sources.stderr).toBe(0);
    expect(sources.stdout).toMatch(/^TYPE\s+ID\s+NAME\s+ACCEPTED\s+REJECTED\s+SIG FAILURES\s+LAST SEEN/);
    expect(sources.stdout.split("\n").find((l) => l.includes(id))).toMatch(
      /receiver\/mailgun.*Mailgun prod\s+1\s+0\s+1/,
    );
    expect(sources.stdout).toMatch(/^segment\s+segment\s/m);
    const sj = JSON.parse((await slice("sources", "--json")).stdout) as Json[];
    expect(sj.find((s) => s.id === id)).toMatchObject({
      type: "receiver",
      accepted: 1,
      signature_failures: 1,
    });

    const del = await slice("receivers", "delete", id);
    expect(del.code, del.stderr).toBe(0);
    expect(await postMailgun(url, signingKey, "ana@example.com")).toBe(404);
    const gone = await slice("receivers", "show", id);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: /);
  });

  it("prints Postmark's URL with the credentials Slice made, once", async () => {
    const made = await slice("receivers", "create", "postmark");
    expect(made.code, made.stderr).toBe(0);
    const withCredentials = new URL(made.stdout.trim());
    expect(withCredentials.username).not.toBe("");
    expect(withCredentials.password).not.toBe("");
    const id = withCredentials.pathname.split("/hooks/")[1]!;
    const shown = await slice("receivers", "show", id);
    expect(shown.stdout).not.toContain(withCredentials.password);
  });

  it("names the setting a provider needs, and refuses one it does not take", async () => {
    const none = await slice("receivers", "create", "sendgrid");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("error: sendgrid needs --public-key");
    expect(none.stderr).toContain("Verification Key");
    const wrong = await slice("receivers", "create", "resend", "--secret", "whsec_x", "--topic-arn", "arn:x");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("--topic-arn is not a setting of resend");
    const unknown = await slice("receivers", "create", "mailchimp");
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("expected one of sendgrid, mailgun, ses, postmark, resend");
  });
});
