/**
 * A sequence with a step not done in the rule editor: "cart abandoned" (cart_added, then
 * no order_placed within 1 hour, in the last 30 days) built with the did / did not
 * toggle, saved as the API stores it, counted as previewed, and explained for a contact
 * whose hour is not over yet, with the instant it would enter in the workspace's zone.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, eventually } from "../support/server.ts";
import { startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, scope: ReturnType<Page["locator"]>, label: string, option: string) {
  await scope.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).click();
}

/** The admin's page in a browser whose own zone is not the workspace's (UTC). */
async function signedInElsewhere(env: WebEnv): Promise<Page> {
  const page = await env.browser.newPage({
    viewport: { width: 1400, height: 1000 },
    timezoneId: "America/New_York",
  });
  page.setDefaultTimeout(10_000);
  await page.goto(`${env.s.url}/sign-in`);
  await page.getByLabel("API key").fill(ADMIN_KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("workspace-name").getByText("Default").waitFor();
  return page;
}

const MIN = 60_000;

describe("web app: a sequence with a step not done", () => {
  let env: WebEnv;
  let page: Page;
  const ids: Record<string, string> = {};
  let freshCart = "";
  beforeAll(async () => {
    env = await startWebEnv(50);
    const now = Date.now();
    const at = (ms: number) => new Date(ms).toISOString();
    freshCart = at(now - 10 * MIN);
    for (const name of ["abandoned", "ordered", "fresh"]) {
      const c = await env.s.call("POST", "/v1/contacts", { email: `${name}@carts.example` });
      if (c.status !== 201) throw new Error(c.text);
      ids[name] = c.body.id;
    }
    const e = await env.s.call("POST", "/v1/events", [
      { type: "cart_added", contact: { email: "abandoned@carts.example" }, timestamp: at(now - 120 * MIN) },
      { type: "cart_added", contact: { email: "ordered@carts.example" }, timestamp: at(now - 120 * MIN) },
      { type: "order_placed", contact: { email: "ordered@carts.example" }, timestamp: at(now - 110 * MIN) },
      { type: "cart_added", contact: { email: "fresh@carts.example" }, timestamp: freshCart },
    ]);
    if (e.status !== 200 || e.body.errors.length) throw new Error(e.text);
    page = await signedInElsewhere(env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  const rule = {
    type: "and",
    conditions: [
      {
        type: "sequence",
        steps: [{ event: "cart_added" }, { event: "order_placed", not: true }],
        within: "1h",
        window: { in_last: "30d" },
      },
    ],
  };

  it("builds cart abandoned with the did / did not toggle, saves it and counts it", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    await page.getByLabel("Name").fill("Cart abandoned");
    await page.getByLabel(/^Dynamic/).check();
    const root = page.locator('[data-path="rule"]');
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Sequence" }).filter({ visible: true }).click();
    await root.getByRole("button", { name: "Remove condition" }).first().click();
    const seq = page.locator('[data-path="rule.conditions[0]"]');
    await seq.getByText("then").waitFor();

    // The first step is always one the contact did: it has no toggle.
    expect(await seq.getByLabel("Step 1 done").count()).toBe(0);
    await seq.getByLabel("Step 2 done").getByText("did not", { exact: true }).click();
    await seq.getByText("within", { exact: true }).waitFor();
    await seq.getByText("of cart_added", { exact: true }).waitFor();

    // A new step goes before the one not done, which stays last; a step done cannot
    // follow one not done, so the last step's toggle is blocked while step 2 is "did not".
    await seq.getByRole("button", { name: "+ step" }).click();
    await seq.getByLabel("Step 3 event").waitFor();
    expect(await seq.getByLabel("Step 3 event").inputValue()).toBe("order_placed");
    expect(
      await seq.getByLabel("Step 2 done").getByRole("radio", { name: "did", exact: true }).isChecked(),
    ).toBe(true);
    expect(
      await seq.getByLabel("Step 3 done").getByRole("radio", { name: "did not", exact: true }).isChecked(),
    ).toBe(true);
    await seq.getByLabel("Step 2 done").getByText("did not", { exact: true }).click();
    await seq.getByTestId("step-3-blocked").waitFor();
    expect(
      await seq.getByLabel("Step 3 done").getByRole("radio", { name: "did", exact: true }).isDisabled(),
    ).toBe(true);
    await seq.getByLabel("Step 2 done").getByText("did", { exact: true }).click();
    await seq.getByTestId("step-3-blocked").waitFor({ state: "detached" });
    await seq.getByRole("button", { name: "Remove step 2" }).click();
    await seq.getByLabel("Step 3 event").waitFor({ state: "detached" });

    await pick(page, seq, "Within unit", "hours");
    await pick(page, seq, "When", "in the last");
    await seq
      .getByTestId("sequence-deadline")
      .getByText(/once 1h has passed since cart_added with no order_placed in that time/)
      .waitFor();

    const preview = (await env.s.call("POST", "/v1/segments/preview", { rule })).body;
    expect(preview.count).toBe(1);
    expect(preview.sample.map((c: { email: string }) => c.email)).toEqual(["abandoned@carts.example"]);
    await eventually(
      async () => (await page.getByTestId("preview-count").textContent())?.trim() === "1",
      5000,
      "preview count of cart abandoned",
    );

    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(/\/segments\/seg_/);
    const id = page.url().split("/").pop()!;
    const saved = (await env.s.call("GET", `/v1/segments/${id}`)).body;
    expect(saved.rule).toEqual(rule);
    expect(saved.size).toBe(1);
    const members = (await env.s.call("GET", `/v1/segments/${id}/contacts`)).body;
    expect(members.data.map((c: { id: string }) => c.id)).toEqual([ids.abandoned]);
  });

  it("explains when a fresh cart's contact would enter, in the workspace's zone", async () => {
    const seg = await env.s.call("POST", "/v1/segments", { name: "Carts left for an hour", rule });
    expect(seg.status, seg.text).toBe(201);
    const pendingUntil = new Date(Date.parse(freshCart) + 60 * MIN).toISOString();
    const api = (await env.s.call("GET", `/v1/contacts/${ids.fresh}/explain?segment=${seg.body.id}`)).body;
    expect(api.member).toBe(false);
    expect(api.rule.conditions[0].pending_until).toBe(pendingUntil);

    // The workspace is in UTC and the browser in New York: the time shown is the workspace's.
    const shown = await page.evaluate(
      (iso) =>
        new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" }),
      pendingUntil,
    );
    await page.goto(`${env.s.url}/contacts/${ids.fresh}`);
    await pick(page, page.locator("body"), "Why is this contact in or out of…", "Carts left for an hour");
    await page.getByTestId("explain-member").getByText("Not in the segment").waitFor();
    const node = page
      .getByTestId("explain")
      .getByText(
        `sequence cart_added → not order_placed within 1h, in the last 30d — would enter at ${shown} unless order_placed happens`,
        { exact: true },
      );
    await node.waitFor();
  });
});
