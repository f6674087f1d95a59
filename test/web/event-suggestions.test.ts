/**
 * The event pickers suggest the workspace's own event types, and the property inputs
 * the property names its events carry (numbers only where a sum is measured), while
 * still taking any text.
 */
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, scope: Locator, label: string, option: string) {
  await scope.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).filter({ visible: true }).click();
}

/** The options the open dropdown shows. */
async function options(page: Page): Promise<string[]> {
  const list = page.getByRole("option").filter({ visible: true });
  await list.first().waitFor();
  return list.allTextContents();
}

describe("web app: event and property suggestions", () => {
  let env: WebEnv;
  let page: Page;
  const previews: unknown[] = [];
  beforeAll(async () => {
    env = await startWebEnv(20);
    const e = await env.s.call("POST", "/v1/events", [
      {
        type: "trial_started",
        contact: { email: "user1@example.com" },
        properties: { plan: "Pro", seats: 3, referrer: { campaign: "spring" } },
      },
    ]);
    expect(e.body.errors).toEqual([]);
    page = await signedIn(env);
    page.on("request", (r) => {
      if (r.method() === "POST" && r.url().endsWith("/v1/segments/preview"))
        previews.push((r.postDataJSON() as { rule: unknown }).rule);
    });
  });
  afterAll(async () => {
    await env?.stop();
  });

  it("suggests the workspace's event types and their properties in the segment editor", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    await page.getByLabel("Name").fill("Trials");
    const root = page.locator('[data-path="rule"]');
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Event condition" }).filter({ visible: true }).click();
    const ev = page.locator('[data-path="rule.conditions[1]"]');
    const event = ev.getByLabel("Event", { exact: true });
    await event.fill("tri");
    expect(await options(page)).toEqual(["trial_started"]);
    await page.getByRole("option", { name: "trial_started", exact: true }).click();
    expect(await event.inputValue()).toBe("trial_started");

    await ev.getByRole("button", { name: "+ where property…" }).click();
    await ev.getByLabel("Property", { exact: true }).click();
    expect(await options(page)).toEqual(["plan", "referrer", "referrer.campaign", "seats"]);
    await page.getByRole("option", { name: "plan", exact: true }).click();
    await ev.getByLabel("Property value", { exact: true }).fill("pro");

    // A sum measures numbers: only the numeric properties are offered.
    await pick(page, ev, "Measure", "sum of");
    await ev.getByLabel("Measured property", { exact: true }).fill("");
    await ev.getByLabel("Measured property", { exact: true }).click();
    expect(await options(page)).toEqual(["seats"]);
    await page.getByRole("option", { name: "seats", exact: true }).click();

    await eventually(
      () => {
        const last = JSON.stringify(previews[previews.length - 1] ?? null);
        return last.includes('"event":"trial_started"') && last.includes('"property":"seats"');
      },
      5000,
      "the preview of the picked event and property",
    );
  });

  it("suggests a sequence step's own event's properties", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    const root = page.locator('[data-path="rule"]');
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Sequence" }).filter({ visible: true }).click();
    const seq = page.locator('[data-path="rule.conditions[1]"]');
    const step = seq.getByLabel("Step 1 event", { exact: true });
    await step.fill("tri");
    expect(await options(page)).toEqual(["trial_started"]);
    await page.getByRole("option", { name: "trial_started", exact: true }).click();
    await seq.getByRole("button", { name: "+ where property…" }).first().click();
    await seq.getByLabel("Property", { exact: true }).first().click();
    expect(await options(page)).toEqual(["plan", "referrer", "referrer.campaign", "seats"]);
  });

  it("still takes an event type it does not know", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    const root = page.locator('[data-path="rule"]');
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Event condition" }).filter({ visible: true }).click();
    const ev = page.locator('[data-path="rule.conditions[1]"]');
    await ev.getByLabel("Event", { exact: true }).fill("webinar_joined");
    await eventually(
      () => JSON.stringify(previews[previews.length - 1] ?? null).includes('"event":"webinar_joined"'),
      5000,
      "the preview of a free-text event",
    );
  });

  it("suggests them in the contacts page's event filter", async () => {
    await page.goto(`${env.s.url}/contacts`);
    await page.getByRole("button", { name: "+ Add filter" }).click();
    const row = page.getByTestId("filter-row").nth(0);
    await pick(page, row, "Category", "Event");
    const event = row.getByLabel("Event", { exact: true });
    await event.fill("");
    await event.click();
    const shown = await options(page);
    expect(shown).toContain("trial_started");
    expect(shown).toContain("email_opened");
    // The workspace's own types come first.
    expect(shown.indexOf("email_sent")).toBeLessThan(shown.indexOf("cart_added"));
    expect(shown.indexOf("trial_started")).toBeLessThan(shown.indexOf("cart_added"));
  });
});
