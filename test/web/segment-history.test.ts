/**
 * A segment's history and hand edits in the web app: the change log (emails linked,
 * times in the workspace's zone whatever the browser's, paged to the newest), the edit
 * history with its rule diffs and Restore (a stale ETag refused with a reload), bulk
 * actions confirmed with the member count, and overrides of a dynamic segment (kept in
 * until a time, kept out, lifted), each checked on screen and through the API.
 *
 * `SLICE_UI_SCREENSHOTS=1` also writes docs/ui-segment-history.png (the History tab, 1280×800).
 */
import { fileURLToPath } from "node:url";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY } from "../support/server.ts";
import { startWebEnv, type WebEnv } from "./support.ts";

const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));

type Json = Record<string, unknown>;

describe("web app: a segment's changes, history, bulk actions and overrides", () => {
  let env: WebEnv;
  let page: Page;
  let zone: string;
  beforeAll(async () => {
    env = await startWebEnv(300);
    zone = (await env.s.call("GET", "/v1/workspace")).body.time_zone;
    // A browser zone far from the workspace's: times must follow the workspace, not the browser.
    const browserZone = zone === "Pacific/Kiritimati" ? "America/Adak" : "Pacific/Kiritimati";
    page = await env.browser.newPage({ viewport: { width: 1400, height: 1000 }, timezoneId: browserZone });
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (e) => process.stderr.write(`page error: ${e.message}\n`));
    await page.goto(`${env.s.url}/sign-in`);
    await page.getByLabel("API key").fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("workspace-name").getByText("Default").waitFor();
  });
  afterAll(async () => {
    await env?.stop();
  });

  const createSegment = async (name: string, rule?: Json) => {
    const r = await env.s.call("POST", "/v1/segments", rule ? { name, rule } : { name, kind: "static" });
    expect(r.status).toBe(201);
    return r.body as { id: string; version: number; size: number };
  };
  const score = (op: string, value: number) => ({ type: "field", field: "score", op, value });
  const contactByEmail = async (email: string) =>
    (await env.s.call("GET", `/v1/contacts?email=${encodeURIComponent(email)}`)).body.data[0] as {
      id: string;
      email: string;
      tags: string[];
    };
  const isMember = async (segment: string, email: string) =>
    (await env.s.call("GET", `/v1/segments/${segment}/contacts?email=${encodeURIComponent(email)}`)).body.data
      .length === 1;
  const openTab = async (id: string, tab: string) => {
    await page.goto(`${env.s.url}/segments/${id}`);
    await page.getByRole("tab", { name: tab }).click();
  };
  const inZone = (iso: string) =>
    new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium", timeZone: zone });
  /** The error shown under an input. */
  const errorOf = (input: Locator) =>
    input
      .locator("xpath=ancestor::div[contains(@class,'mantine-InputWrapper-root')][1]")
      .locator(".mantine-InputWrapper-error");

  it("lists who entered and left, oldest first, with emails linked and times in the workspace zone, to the newest", async () => {
    const seg = await createSegment("Scores from 40", score("gte", 40));
    const put = await env.s.call("PUT", `/v1/segments/${seg.id}`, {
      name: "Scores from 40",
      rule: score("gte", 45),
    });
    expect(put.status).toBe(200);
    const log: { contact_id: string; change: string; at: string }[] = [];
    let cursor: string | null = null;
    do {
      const r = await env.s.call(
        "GET",
        `/v1/segments/${seg.id}/changes?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      log.push(...r.body.data);
      cursor = r.body.next_cursor;
    } while (cursor);
    // 180 entered (scores 40–99), then 15 left (40–44): four pages of 50 on screen.
    expect(log.length).toBe(195);
    expect(log.at(-1)!.change).toBe("exited");

    await openTab(seg.id, "Changes");
    const table = page.getByTestId("segment-changes");
    const rows = table.locator("tbody tr");
    await rows.nth(49).waitFor();
    expect(await rows.count()).toBe(50);

    const first = rows.first();
    const firstContact = await env.s.call("GET", `/v1/contacts/${log[0]!.contact_id}`);
    await first.getByRole("link", { name: firstContact.body.email }).waitFor();
    expect(await first.getByRole("link").getAttribute("href")).toBe(`/contacts/${log[0]!.contact_id}`);
    expect(await first.locator("time").getAttribute("title")).toBe(log[0]!.at);
    expect(await first.locator("time").textContent()).toBe(inZone(log[0]!.at));
    expect(await first.getByText("entered").count()).toBe(1);
    await page.getByText(`times in ${zone}`).waitFor();

    // The newest change is reached by loading on.
    for (let shown = 50; shown < 195; shown += 50) {
      await page.getByRole("button", { name: "Load more" }).click();
      await rows.nth(Math.min(shown + 50, 195) - 1).waitFor();
    }
    await page.getByTestId("changes-end").getByText("195 changes").waitFor();
    expect(await rows.count()).toBe(195);
    const last = rows.last();
    const lastEmail = (await env.s.call("GET", `/v1/contacts/${log.at(-1)!.contact_id}`)).body.email;
    await last.getByRole("link", { name: lastEmail }).waitFor();
    expect(await last.getByText("left").count()).toBe(1);
    expect(await last.locator("time").getAttribute("title")).toBe(log.at(-1)!.at);

    // Clicking an email opens that contact.
    await last.getByRole("link", { name: lastEmail }).click();
    await page.waitForURL(new RegExp(`/contacts/${log.at(-1)!.contact_id}$`));
  });

  it("shows each version's text rule with its diff, and restores an old version", async () => {
    const seg = await createSegment("Score band", score("gte", 40));
    const v2 = await env.s.call("PUT", `/v1/segments/${seg.id}`, {
      name: "Score band",
      rule: score("gte", 60),
    });
    const v3 = await env.s.call("PUT", `/v1/segments/${seg.id}`, {
      name: "Top scores",
      rule: {
        type: "and",
        conditions: [score("gte", 60), { type: "field", field: "country", op: "eq", value: "FR" }],
      },
    });
    expect([v2.status, v3.status]).toEqual([200, 200]);
    const versions = (await env.s.call("GET", `/v1/segments/${seg.id}/versions`)).body.data as {
      version: number;
      rule: Json;
      rule_text: string;
    }[];
    expect(versions.map((v) => v.version)).toEqual([3, 2, 1]);

    await openTab(seg.id, "History");
    const card = (v: number) => page.locator(`[data-version="${v}"]`);
    await card(3).getByText("current").waitFor();
    for (const v of versions) {
      expect(await card(v.version).getByTestId("version-rule").textContent()).toBe(v.rule_text);
    }
    // Version 2 changed the threshold: the old line out, the new one in.
    const diff2 = card(2).getByTestId("version-diff");
    expect(await diff2.locator('[data-op="del"]').allTextContents()).toEqual(
      versions[2]!.rule_text.split("\n").map((l) => `− ${l}`),
    );
    expect(await diff2.locator('[data-op="add"]').allTextContents()).toEqual(
      versions[1]!.rule_text.split("\n").map((l) => `+ ${l}`),
    );
    await card(3).getByText("(was “Score band”)").waitFor();
    // The first version has nothing before it, and the current one nothing to restore.
    expect(await card(1).getByTestId("version-diff").count()).toBe(0);
    expect(await card(3).getByRole("button", { name: "Restore" }).count()).toBe(0);

    if (process.env.SLICE_UI_SCREENSHOTS) {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: `${DOCS}ui-segment-history.png` });
      await page.setViewportSize({ width: 1400, height: 1000 });
    }

    await card(1).getByRole("button", { name: "Restore" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Restore version 1" }).click();
    await card(4).getByText("current").waitFor();
    const after = (await env.s.call("GET", `/v1/segments/${seg.id}`)).body;
    expect(after.version).toBe(4);
    expect(after.name).toBe("Score band");
    expect(after.rule).toEqual(versions[2]!.rule);
    expect(after.size).toBe(180);
    await page.getByText("180 members").waitFor();
  });

  it("refuses a restore when someone else changed the segment meanwhile, and reloads", async () => {
    const seg = await createSegment("Contested", score("gte", 10));
    await env.s.call("PUT", `/v1/segments/${seg.id}`, { name: "Contested", rule: score("gte", 20) });
    await openTab(seg.id, "History");
    await page.locator('[data-version="2"]').getByText("current").waitFor();
    // Edited elsewhere after the page read the history (and its ETag, "v2").
    const other = await env.s.call("PUT", `/v1/segments/${seg.id}`, {
      name: "Contested",
      rule: score("gte", 30),
    });
    expect(other.status).toBe(200);

    await page.locator('[data-version="1"]').getByRole("button", { name: "Restore" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Restore version 1" }).click();
    await page.getByTestId("restore-stale").getByText("Someone else changed this segment").waitFor();
    // Reloaded: the other edit is there as the current version; nothing was restored.
    await page.locator('[data-version="3"]').getByText("current").waitFor();
    const now = (await env.s.call("GET", `/v1/segments/${seg.id}`)).body;
    expect(now.version).toBe(3);
    expect(now.rule).toEqual(score("gte", 30));

    // Restoring from the reloaded history works.
    await page.locator('[data-version="1"]').getByRole("button", { name: "Restore" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Restore version 1" }).click();
    await page.locator('[data-version="4"]').getByText("current").waitFor();
    await page.getByTestId("restore-stale").waitFor({ state: "detached" });
    expect((await env.s.call("GET", `/v1/segments/${seg.id}`)).body.rule).toEqual(score("gte", 10));
  });

  it("adds and removes a tag on every member and copies them into a static segment, after a confirmation", async () => {
    const seg = await createSegment("Nineties", score("gte", 90));
    const target = await createSegment("Call list");
    expect(seg.size).toBe(30);
    const members = async () =>
      (await env.s.call("GET", `/v1/segments/${seg.id}/contacts?limit=100`)).body.data as {
        email: string;
        tags: string[];
      }[];
    await openTab(seg.id, "Bulk actions");

    // The server's refusal is shown beside the tags.
    const tags = page.getByRole("textbox", { name: "Tags" });
    await tags.fill("x".repeat(300));
    await tags.press("Enter");
    await page.getByRole("button", { name: "Add tags…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Apply to 30 members" }).click();
    await errorOf(tags)
      .getByText(/tag_add|characters|long/i)
      .waitFor();
    expect((await members()).some((m) => m.tags.some((t) => t.startsWith("xxx")))).toBe(false);
    await tags.press("Backspace");

    await tags.fill("call-me");
    await tags.press("Enter");
    expect(await page.locator(".mantine-TagsInput-pill").count()).toBe(1);
    await page.getByRole("button", { name: "Add tags…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Add the tag “call-me” to the 30 members of “Nineties”?").waitFor();
    await dialog.getByRole("button", { name: "Apply to 30 members" }).click();
    await page.getByTestId("action-result").getByText("30 contacts changed").waitFor();
    const tagged = await members();
    expect(tagged.length).toBe(30);
    expect(tagged.every((m) => m.tags.includes("call-me"))).toBe(true);
    expect((await contactByEmail("user10@example.com")).tags).not.toContain("call-me");

    await page.getByText("Remove tags", { exact: true }).click();
    // A tag typed without Enter counts as given.
    await tags.press("Backspace");
    expect(await page.locator(".mantine-TagsInput-pill").count()).toBe(0);
    await tags.fill("call-me");
    await page.getByRole("button", { name: "Remove tags…" }).click();
    await dialog.getByText("Remove the tag “call-me” from the 30 members").waitFor();
    await dialog.getByRole("button", { name: "Apply to 30 members" }).click();
    await page.getByTestId("action-result").getByText("30 contacts changed").waitFor();
    expect((await members()).some((m) => m.tags.includes("call-me"))).toBe(false);

    await page.getByText("Copy to a static segment", { exact: true }).click();
    await page.getByRole("textbox", { name: "Static segment" }).click();
    await page.getByRole("option", { name: "Call list", exact: true }).click();
    await page.getByRole("button", { name: "Copy to a static segment…" }).click();
    await dialog.getByText("Copy the 30 members of “Nineties” into “Call list”?").waitFor();
    await dialog.getByRole("button", { name: "Apply to 30 members" }).click();
    await page.getByTestId("action-result").getByText("30 contacts changed").waitFor();
    expect((await env.s.call("GET", `/v1/segments/${target.id}`)).body.size).toBe(30);
    expect(await isMember(target.id, "user90@example.com")).toBe(true);
  });

  it("keeps contacts in or out of a dynamic segment by hand, lists the overrides with their expiry, and lifts them", async () => {
    const seg = await createSegment("Fifty up", score("gte", 50));
    expect(await isMember(seg.id, "user5@example.com")).toBe(false);
    await openTab(seg.id, "Overrides");
    await page.getByText("No overrides: the rule alone decides.").waitFor();
    const emails = page.getByLabel("Emails (one per line, or separated by commas)");
    const until = page.getByLabel("Keep in until (optional)");

    // Server errors beside the field they name: an unknown contact, a past expiry.
    await emails.fill("user5@example.com\nnobody@example.com");
    await page.getByRole("button", { name: "Keep in segment" }).click();
    await errorOf(emails)
      .getByText(/nobody@example\.com/)
      .waitFor();
    await emails.fill("user5@example.com");
    await until.fill("2020-01-01T00:00");
    await page.getByRole("button", { name: "Keep in segment" }).click();
    await errorOf(until).getByText("must be in the future").waitFor();
    expect((await env.s.call("GET", `/v1/segments/${seg.id}/overrides`)).body.data).toEqual([]);

    await until.fill("2031-06-01T12:30");
    await page.getByRole("button", { name: "Keep in segment" }).click();
    await page.getByTestId("override-result").getByText("1 contact kept in").waitFor();
    const user5 = await contactByEmail("user5@example.com");
    const overrides = (await env.s.call("GET", `/v1/segments/${seg.id}/overrides`)).body.data;
    expect(overrides).toHaveLength(1);
    expect(overrides[0].contact_id).toBe(user5.id);
    expect(overrides[0].action).toBe("added");
    // Typed in the workspace's zone.
    expect(inZone(overrides[0].expires_at)).toBe("1 Jun 2031, 12:30:00");
    expect(await isMember(seg.id, "user5@example.com")).toBe(true);
    const row5 = page.locator(`[data-override="${user5.id}"]`);
    await row5.getByRole("link", { name: "user5@example.com" }).waitFor();
    await row5.getByText("kept in").waitFor();
    await row5.getByText("kept until").waitFor();
    expect(await row5.locator("time").getAttribute("title")).toBe(overrides[0].expires_at);
    expect(await row5.locator("time").textContent()).toBe(inZone(overrides[0].expires_at));

    // Kept out for good.
    await emails.fill("user50@example.com");
    await page.getByRole("button", { name: "Keep out of segment" }).click();
    await page.getByTestId("override-result").getByText("1 contact kept out").waitFor();
    const user50 = await contactByEmail("user50@example.com");
    const row50 = page.locator(`[data-override="${user50.id}"]`);
    await row50.getByText("kept out").waitFor();
    await row50.getByText("until lifted").waitFor();
    expect(await isMember(seg.id, "user50@example.com")).toBe(false);

    // Lifting the one kept in: the rule alone decides again.
    await row5.getByRole("checkbox").check();
    await page.getByRole("button", { name: "Lift selected (1)" }).click();
    await row5.waitFor({ state: "detached" });
    const left = (await env.s.call("GET", `/v1/segments/${seg.id}/overrides`)).body.data;
    expect(left.map((o: { contact_id: string }) => o.contact_id)).toEqual([user50.id]);
    expect(await isMember(seg.id, "user5@example.com")).toBe(false);
  });
});
