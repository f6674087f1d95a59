/**
 * Hand overrides of a dynamic segment in the web app: a contact's explanation gives the
 * override as the reason (and until when, in the workspace's zone) above the rule's tree
 * read as what the rule alone says; the members list says who is kept in by hand and
 * until when; the tree reads comparisons as signs and keeps windows and filters.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Json } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, label: string, option: string) {
  await page.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).click();
}

const UNTIL = "2027-01-12T10:00:00.000Z";

describe("web app: hand overrides in explain and in the members list", () => {
  let env: WebEnv;
  let page: Page;
  let segId: string;
  const ids: Record<string, string> = {};
  // The expiry as the page reads it in the workspace's zone (UTC), whatever the browser's.
  let untilShown: string;

  beforeAll(async () => {
    env = await startWebEnv(60);
    page = await signedIn(env);
    for (const c of (await env.s.call("GET", "/v1/contacts?limit=100")).body.data as Json[])
      ids[c.email] = c.id;
    const seg = await env.s.call("POST", "/v1/segments", {
      name: "Engaged high scorers",
      rule: {
        type: "and",
        conditions: [
          { type: "field", field: "score", op: "gte", value: 50 },
          {
            type: "event",
            event: "email_opened",
            where: [{ property: "campaign", op: "is_not_set" }],
            window: { in_last: "30d" },
            op: "gte",
            value: 1,
          },
        ],
      },
    });
    expect(seg.status, seg.text).toBe(201);
    segId = seg.body.id;
    const kept = await env.s.call("POST", `/v1/segments/${segId}/members`, {
      contacts: [{ email: "user4@example.com" }],
      expires_at: UNTIL,
    });
    expect(kept.status, kept.text).toBe(200);
    const forGood = await env.s.call("POST", `/v1/segments/${segId}/members`, {
      contacts: [{ email: "user6@example.com" }],
    });
    expect(forGood.status, forGood.text).toBe(200);
    const out = await env.s.call("DELETE", `/v1/segments/${segId}/members`, {
      contacts: [{ email: "user52@example.com" }],
    });
    expect(out.status, out.text).toBe(200);
    untilShown = await page.evaluate(
      (iso) =>
        new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" }),
      UNTIL,
    );
    expect(untilShown).toContain("12 Jan 2027");
  });
  afterAll(async () => {
    await env?.stop();
  });

  it("explains a contact added by hand by the override, the tree below as what the rule alone says", async () => {
    await page.goto(`${env.s.url}/contacts/${ids["user4@example.com"]}`);
    await pick(page, "Why is this contact in or out of…", "Engaged high scorers");
    const explain = page.getByTestId("explain");
    await explain.getByTestId("explain-member").getByText("In the segment").waitFor();
    expect(await explain.getByTestId("explain-override").textContent()).toBe(
      `Added by hand until ${untilShown}`,
    );
    expect(await explain.getByTestId("explain-rule-alone").textContent()).toBe(
      "The rule alone does not hold:",
    );
    expect(await explain.locator('[data-testid="explain-node"]').first().getAttribute("data-result")).toBe(
      "false",
    );
  });

  it("explains a contact removed by hand, the rule alone holding", async () => {
    await page.goto(`${env.s.url}/contacts/${ids["user52@example.com"]}`);
    await pick(page, "Why is this contact in or out of…", "Engaged high scorers");
    const explain = page.getByTestId("explain");
    await explain.getByTestId("explain-member").getByText("Not in the segment").waitFor();
    expect(await explain.getByTestId("explain-override").textContent()).toBe("Removed by hand");
    expect(await explain.getByTestId("explain-rule-alone").textContent()).toBe("The rule alone holds:");
    expect(await explain.locator('[data-testid="explain-node"]').first().getAttribute("data-result")).toBe(
      "true",
    );
  });

  it("reads comparisons as signs and keeps the event's filter and window, as the CLI does", async () => {
    await page.goto(`${env.s.url}/contacts/${ids["user52@example.com"]}`);
    await pick(page, "Why is this contact in or out of…", "Engaged high scorers");
    const explain = page.getByTestId("explain");
    await explain.getByText("score ≥ 50 — value: 52", { exact: true }).waitFor();
    await explain
      .getByText("email_opened where campaign is not set: count = 1, needed ≥ 1, in the last 30d", {
        exact: true,
      })
      .waitFor();
    expect(await explain.getByText(/\bgte\b|is_not_set/).count()).toBe(0);
  });

  it("a contact the rule alone decides has no reason given", async () => {
    await page.goto(`${env.s.url}/contacts/${ids["user50@example.com"]}`);
    await pick(page, "Why is this contact in or out of…", "Engaged high scorers");
    await page.getByTestId("explain-member").getByText("In the segment").waitFor();
    expect(await page.getByTestId("explain-override").count()).toBe(0);
    expect(await page.getByTestId("explain-rule-alone").count()).toBe(0);
  });

  it("lists members kept by hand with until when, or kept by hand for good", async () => {
    await page.goto(`${env.s.url}/segments/${segId}`);
    const members = page.getByTestId("members");
    const row = (email: string) => members.locator(`[data-member="${ids[email]}"]`);
    await row("user4@example.com").getByText(`kept until ${untilShown}`, { exact: true }).waitFor();
    await row("user6@example.com").getByText("kept by hand", { exact: true }).waitFor();
    // A member by the rule alone: nothing said.
    await row("user50@example.com").waitFor();
    expect(await row("user50@example.com").getByText(/kept/).count()).toBe(0);
    // The one kept out is not a member.
    expect(await row("user52@example.com").count()).toBe(0);
  });
});
