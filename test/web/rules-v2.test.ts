/**
 * The rule editor's calendar and bucket conditions: "birthday this month" with a 10 %
 * random holdout built without JSON, saved, its members counted as a preview counts
 * them, and explained in words on a contact's page; an event window by calendar period
 * with a count between two numbers.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, scope: ReturnType<Page["locator"]>, label: string, option: string) {
  await scope.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).click();
}

const N = 300;

/** A birthday in 1990 in month `month` (1–12), on a day every month has. */
const birthdayIn = (month: number, i: number) =>
  `1990-${String(month).padStart(2, "0")}-${String(1 + (i % 28)).padStart(2, "0")}`;

describe("web app: calendar and bucket conditions in the rule editor", () => {
  let env: WebEnv;
  let page: Page;
  beforeAll(async () => {
    env = await startWebEnv(N);
    const f = await env.s.call("POST", "/v1/fields", { key: "birthday", type: "date", label: "Birthday" });
    if (f.status !== 201) throw new Error(f.text);
    // The workspace is in UTC: a third of the contacts have their birthday this month, a third another month.
    const month = new Date().getUTCMonth() + 1;
    const other = (month % 12) + 1;
    const updates = [];
    for (let i = 0; i < N; i++) {
      if (i % 3 === 2) continue;
      updates.push({
        email: `user${i}@example.com`,
        fields: { birthday: birthdayIn(i % 3 === 0 ? month : other, i) },
      });
    }
    const b = await env.s.call("POST", "/v1/contacts/batch", updates);
    if (b.status !== 200 || b.body.errors.length) throw new Error(b.text);
    page = await signedIn(env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  const preview = async (rule: unknown) => (await env.s.call("POST", "/v1/segments/preview", { rule })).body;
  const shown = async () =>
    Number((await page.getByTestId("preview-count").textContent())!.replace(/,/g, ""));

  it("builds birthday this month with a 10 % holdout, saves it, and explains it in words", async () => {
    await page.getByRole("button", { name: "+ Create segment" }).click();
    await page.getByLabel("Name").fill("Birthday this month, holdout excluded");
    await page.getByLabel(/^Dynamic/).check();

    // The starting condition becomes: Birthday, anniversary during, this month.
    const first = page.locator('[data-path="rule.conditions[0]"]');
    await pick(page, first, "Field", "Birthday");
    await pick(page, first, "Operator", "anniversary during");
    await pick(page, first, "Value", "last month");
    await pick(page, first, "Value", "this month");

    const root = page.locator('[data-path="rule"]');
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Random bucket" }).filter({ visible: true }).click();
    const bucket = page.locator('[data-path="rule.conditions[1]"]');
    await bucket.getByText(/for holdouts and A\/B splits/).waitFor();
    await bucket.getByLabel("Bucket seed").fill("birthday-holdout");
    await pick(page, bucket, "Bucket operator", "≥");
    await bucket.getByLabel("Bucket value").fill("10");

    const rule = {
      type: "and",
      conditions: [
        { type: "field", field: "birthday", op: "anniversary_during", value: "this_month" },
        { type: "bucket", seed: "birthday-holdout", op: "gte", value: 10 },
      ],
    };
    const expected = (await preview(rule)).count;
    const birthdays = (await preview(rule.conditions[0])).count;
    expect(birthdays).toBe(N / 3);
    // The holdout takes some of them out, and not all.
    expect(expected).toBeGreaterThan(birthdays / 2);
    expect(expected).toBeLessThan(birthdays);
    await eventually(async () => (await shown()) === expected, 5000, "count of the rule");

    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(/\/segments\/seg_/);
    const id = page.url().split("/").pop()!;
    const saved = (await env.s.call("GET", `/v1/segments/${id}`)).body;
    expect(saved.rule).toEqual(rule);
    expect(saved.size).toBe(expected);

    // A member's explanation reads the calendar period in words. (The bucket node is
    // explained through a segment of its own once the explain answer's schema knows it.)
    const birthdaySeg = await env.s.call("POST", "/v1/segments", {
      name: "Birthday this month",
      rule: rule.conditions[0],
    });
    expect(birthdaySeg.status).toBe(201);
    const members = (await env.s.call("GET", `/v1/segments/${id}/contacts?limit=1`)).body;
    await page.goto(`${env.s.url}/contacts/${members.data[0].id}`);
    await pick(page, page.locator("body"), "Why is this contact in or out of…", "Birthday this month");
    await page.getByTestId("explain-member").getByText("In the segment").waitFor();
    await page
      .getByTestId("explain")
      .getByText(/^birthday anniversary during this month — value: 1990-/)
      .waitFor();
  });

  it("counts events in a calendar period, between two numbers", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    await page.getByLabel("Name").fill("Opened 1 to 3 times this year");
    await page.getByLabel(/^Dynamic/).check();
    const root = page.locator('[data-path="rule"]');
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Event condition" }).filter({ visible: true }).click();
    const ev = page.locator('[data-path="rule.conditions[1]"]');
    await pick(page, ev, "When", "during");
    await pick(page, ev, "Window period", "this year");
    await pick(page, ev, "Measure operator", "between");
    await ev.getByLabel("Measure value from").fill("1");
    await ev.getByLabel("Measure value to").fill("3");
    await root.getByRole("button", { name: "Remove condition" }).first().click();

    const rule = {
      type: "and",
      conditions: [
        {
          type: "event",
          event: "email_opened",
          window: { during: "this_year" },
          op: "between",
          value: [1, 3],
        },
      ],
    };
    const expected = (await preview(rule)).count;
    expect(expected).toBeGreaterThan(0);
    await eventually(async () => (await shown()) === expected, 5000, "count of the event rule");
    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(/\/segments\/seg_/);
    const id = page.url().split("/").pop()!;
    const saved = (await env.s.call("GET", `/v1/segments/${id}`)).body;
    expect(saved.rule).toEqual(rule);
    expect(saved.size).toBe(expected);
  });
});
