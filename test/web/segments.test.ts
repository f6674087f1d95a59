/**
 * Flows 4, 2 and 3: the segments list with live sizes; creating a segment in the rule
 * editor with its live preview and errors marked in place; editing one with the diff.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, scope: ReturnType<Page["locator"]>, label: string, option: string) {
  await scope.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).click();
}

describe("web app: segments (flows 4, 2, 3)", () => {
  let env: WebEnv;
  let page: Page;
  beforeAll(async () => {
    env = await startWebEnv(300);
    page = await signedIn(env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  const count = async (rule: unknown, segment_id?: string) =>
    (await env.s.call("POST", "/v1/segments/preview", { rule, ...(segment_id ? { segment_id } : {}) })).body;
  const shown = async () =>
    Number((await page.getByTestId("preview-count").textContent())!.replace(/,/g, ""));

  it("lists default segments with sizes that move live as data arrives (flow 4)", async () => {
    const row = page.locator('tr[data-segment="subscribed"]');
    await row.getByTestId("segment-size").getByText("270", { exact: true }).waitFor();
    await page.locator('tr[data-segment="all"]').getByText("All Contacts").waitFor();
    expect(await page.locator('tr[data-segment="all"]').getByTestId("segment-size").textContent()).toBe(
      "300",
    );
    // New subscribers arrive through the API: the page moves without a reload.
    const r = await env.s.call("POST", "/v1/contacts/batch", [
      { email: "live1@example.com", status: "subscribed" },
      { email: "live2@example.com", status: "subscribed" },
    ]);
    expect(r.status).toBe(200);
    await row.getByTestId("segment-size").getByText("272", { exact: true }).waitFor();
    await page.locator('tr[data-segment="all"]').getByTestId("segment-size").getByText("302").waitFor();
  });

  it("creates a segment in the editor with a live count, errors in place, then saves it (flow 2)", async () => {
    await page.getByRole("button", { name: "+ Create segment" }).click();
    await page.getByLabel("Name").fill("Engaged EUR buyers");
    await page.getByLabel(/^Dynamic/).check();
    const base = {
      type: "and",
      conditions: [{ type: "field", field: "status", op: "eq", value: "subscribed" }],
    };
    await eventually(async () => (await shown()) === (await count(base)).count, 5000, "first count");

    // Add an event condition: ordered, sum of amount > 100, currency EUR, in the last 90 days.
    const root = page.locator('[data-path="rule"]');
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Event condition" }).filter({ visible: true }).click();
    const ev = page.locator('[data-path="rule.conditions[1]"]');
    await ev.getByLabel("Event", { exact: true }).fill("order_placed");
    await pick(page, ev, "Measure", "sum of");
    await ev.getByLabel("Measure value").fill("100");
    await ev.getByLabel("Window amount").fill("90");
    await ev.getByRole("button", { name: "+ where property…" }).click();
    await ev.getByLabel("Property", { exact: true }).fill("currency");
    await ev.getByLabel("Property value").fill("EUR");
    const rule = {
      type: "and",
      conditions: [
        base.conditions[0],
        {
          type: "event",
          event: "order_placed",
          window: { in_last: "90d" },
          where: [{ property: "currency", op: "eq", value: "EUR" }],
          measure: { fn: "sum", property: "amount" },
          op: "gt",
          value: 100,
        },
      ],
    };
    const expected = (await count(rule)).count;
    expect(expected).toBeGreaterThan(0);
    await eventually(async () => (await shown()) === expected, 5000, "count of the event rule");

    // An invalid part is marked where it is, with the server's message.
    await ev.getByLabel("Event", { exact: true }).fill("Bad Event!");
    await ev.getByTestId("rule-issue").waitFor();
    expect(await ev.getByTestId("rule-issue").textContent()).toMatch(/event|a-z/i);
    await ev.getByLabel("Event", { exact: true }).fill("order_placed");
    await ev.getByTestId("rule-issue").waitFor({ state: "detached" });

    // A NOT group around a segment reference, and an OR group with a sequence.
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Segment membership" }).filter({ visible: true }).click();
    const seg = page.locator('[data-path="rule.conditions[2]"]');
    await pick(page, seg, "Membership", "is not in");
    await pick(page, seg, "Segment", "Hard Bounced");
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "OR group" }).filter({ visible: true }).click();
    const or = page.locator('[data-path="rule.conditions[3]"]');
    await or.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Sequence" }).filter({ visible: true }).click();
    await or.locator('[data-path="rule.conditions[3].conditions[1]"]').getByText("then").waitFor();
    const full = {
      ...rule,
      conditions: [
        ...rule.conditions,
        { type: "segment", op: "not_in", segment: "hard_bounced" },
        {
          type: "or",
          conditions: [
            { type: "field", field: "status", op: "eq", value: "subscribed" },
            { type: "sequence", steps: [{ event: "cart_added" }, { event: "order_placed" }], within: "1d" },
          ],
        },
      ],
    };
    const fullCount = (await count(full)).count;
    await eventually(async () => (await shown()) === fullCount, 5000, "count of the full rule");
    expect(await page.getByRole("table").last().locator("tbody tr").count()).toBe(Math.min(10, fullCount));

    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(/\/segments\/seg_/);
    const id = page.url().split("/").pop()!;
    const saved = (await env.s.call("GET", `/v1/segments/${id}`)).body;
    expect(saved.name).toBe("Engaged EUR buyers");
    expect(saved.rule).toEqual(full);
    expect(saved.size).toBe(fullCount);
  });

  it("shows who would enter and leave before an edit is saved (flow 3)", async () => {
    const created = await env.s.call("POST", "/v1/segments", {
      name: "High scores",
      rule: { type: "field", field: "score", op: "gte", value: 50 },
    });
    await page.goto(`${env.s.url}/segments/${created.body.id}/edit`);
    const node = page.locator('[data-path="rule"]');
    await node.getByLabel("Value", { exact: true }).fill("40");
    const diff = (await count({ type: "field", field: "score", op: "gte", value: 40 }, created.body.id)).diff;
    expect(diff.entered).toBeGreaterThan(0);
    await page.getByTestId("diff-entered").getByText(`+${diff.entered} would enter`).waitFor();
    await page.getByTestId("diff-exited").getByText("−0 would leave").waitFor();
    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(new RegExp(`/segments/${created.body.id}$`));
    const saved = (await env.s.call("GET", `/v1/segments/${created.body.id}`)).body;
    expect(saved.rule.value).toBe(40);
  });
});
