/**
 * Computed fields in the web app (docs/rules.md, "Computed fields"): the Fields page
 * declares `lifetime_value = sum(order_placed.amount)` (the type following the measure),
 * lists it with its definition in the text form and a computed badge, refuses to delete
 * it while a segment's rule uses it (naming the segment, linked) and deletes it once unused; a
 * contact's profile shows its computed values, kept apart from the stored fields, an
 * instant in the workspace's zone.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, startTestServer } from "../support/server.ts";
import { ensureWebBuilt, launchBrowser, signedIn, type WebEnv } from "./support.ts";

const DAY = 86_400_000;

describe("web app: computed fields", () => {
  let env: WebEnv;
  let page: Page;

  beforeAll(async () => {
    const [, s, browser] = await Promise.all([
      ensureWebBuilt(),
      startTestServer({ kind: "sqlite" }),
      launchBrowser(),
    ]);
    env = {
      s,
      browser,
      async stop() {
        await browser.close();
        await s.stop();
      },
    };
    page = await signedIn(env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  const api = async (method: string, path: string, body?: unknown): Promise<Json> => {
    const r = await env.s.call(method, path, body);
    expect(r.status, `${method} ${path}: ${r.text}`).toBeLessThan(300);
    return r.body;
  };
  const openFields = async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Fields" }).click();
    await page.getByRole("heading", { name: "Fields", exact: true }).waitFor();
  };
  const row = (key: string) => page.getByTestId("fields-table").locator(`tbody tr[data-field="${key}"]`);

  it("declares lifetime_value = sum(order_placed.amount) and lists it as computed", async () => {
    await openFields();
    await page.getByLabel(/^Key/).fill("lifetime_value");
    await page.getByLabel(/^Label/).fill("Lifetime value");
    await page.getByRole("checkbox", { name: /Computed from events/ }).check();
    const definition = page.getByTestId("computed-definition");
    expect(await definition.getByRole("textbox", { name: "Measure" }).inputValue()).toBe(
      "Sum of a property (sum)",
    );
    // The type is the measure's: a sum is a number, not chosen by hand.
    const type = page.getByRole("textbox", { name: "Type", exact: true });
    expect(await type.inputValue()).toBe("Number (number)");
    expect(await type.isDisabled()).toBe(true);
    await definition.getByRole("textbox", { name: /^Event type/ }).fill("order_placed");
    await definition.getByRole("textbox", { name: /^Property/ }).fill("amount");
    await page.getByRole("button", { name: "Declare field" }).click();
    const declared = page.getByTestId("new-field");
    await declared.getByText("“lifetime_value” declared").waitFor();
    // Contacts hold no value of it: the message says where its value comes from.
    expect(await declared.textContent()).toContain(
      "Each contact's lifetime_value (number) is now computed from its order_placed events",
    );

    await row("lifetime_value").getByText("computed", { exact: true }).waitFor();
    expect(await row("lifetime_value").getByTestId("computed-text").textContent()).toBe(
      "= sum(order_placed.amount)",
    );
    await row("lifetime_value").getByText("Lifetime value").waitFor();
    await row("lifetime_value").getByText("Number").waitFor();
    const listed = (await api("GET", "/v1/fields")).data.find((f: Json) => f.key === "lifetime_value");
    expect(listed).toMatchObject({
      type: "number",
      label: "Lifetime value",
      computed: { event: "order_placed", measure: { fn: "sum", property: "amount" } },
      computed_text: "sum(order_placed.amount)",
    });
  });

  it("shows a bad definition's error beside its input", async () => {
    await page.getByLabel(/^Key/).fill("bad_measure");
    const definition = page.getByTestId("computed-definition");
    await definition.getByRole("textbox", { name: /^Event type/ }).fill("Order Placed!");
    await page.getByRole("button", { name: "Declare field" }).click();
    const input = definition.getByRole("textbox", { name: /^Event type/ });
    await expect.poll(() => input.getAttribute("aria-invalid")).toBe("true");
    expect((await api("GET", "/v1/fields")).data.some((f: Json) => f.key === "bad_measure")).toBe(false);
  });

  it("shows a contact's computed values on its profile, apart from its stored fields", async () => {
    await api("POST", "/v1/fields", { key: "plan", type: "string" });
    await api("POST", "/v1/fields", {
      key: "last_order_at",
      type: "date",
      label: "Last order",
      computed: { event: "order_placed", measure: { fn: "last_at" } },
    });
    const c = await api("POST", "/v1/contacts", {
      email: "ada@shop.example",
      first_name: "Ada",
      fields: { plan: "pro" },
    });
    const at = new Date(Date.now() - DAY).toISOString();
    await api("POST", "/v1/events", [
      { type: "order_placed", contact: { id: c.id }, timestamp: at, properties: { amount: 30 } },
      { type: "order_placed", contact: { id: c.id }, timestamp: at, properties: { amount: 12.5 } },
    ]);
    await page.goto(`${env.s.url}/contacts/${c.id}`);
    const computed = page.locator('tr[data-computed="lifetime_value"]');
    await computed.waitFor();
    expect(await computed.locator("th").textContent()).toContain("Lifetime value");
    await computed.locator("th").getByText("computed", { exact: true }).waitFor();
    expect((await computed.locator("td").textContent())?.trim()).toBe("42.5");
    // An instant reads like the profile's other times: in the workspace's zone, exact on hover.
    const last = page.locator('tr[data-computed="last_order_at"] td time');
    expect(Date.parse((await last.getAttribute("datetime")) ?? "")).toBe(Date.parse(at));
    expect(await last.textContent()).not.toContain("T");
    // The stored field is listed once, without the badge; the computed one is not among them.
    expect((await page.locator('tr[data-key="plan"] td').textContent())?.trim()).toBe("pro");
    expect(await page.locator('tr[data-key="lifetime_value"]').count()).toBe(0);
  });

  it("refuses to delete the field while a segment uses it, naming the segment, then deletes it", async () => {
    const seg = await api("POST", "/v1/segments", {
      name: "Big spenders",
      kind: "dynamic",
      rule: { type: "field", field: "lifetime_value", op: "gt", value: 40 },
    });
    await openFields();
    await row("lifetime_value").getByRole("button", { name: "Delete lifetime_value" }).click();
    const refusal = row("lifetime_value").getByRole("alert");
    const link = refusal.getByRole("link", { name: "Big spenders" });
    await link.waitFor();
    expect(await link.getAttribute("href")).toBe(`/segments/${seg.id}`);
    expect(await refusal.textContent()).toBe("Used by Big spenders: change its rule first");
    expect((await api("GET", "/v1/fields")).data.some((f: Json) => f.key === "lifetime_value")).toBe(true);

    await link.click();
    await page.getByRole("heading", { name: "Big spenders" }).waitFor();
    await page.goBack();
    await api("DELETE", `/v1/segments/${seg.id}`);
    await row("lifetime_value").getByRole("button", { name: "Delete lifetime_value" }).click();
    await row("lifetime_value").waitFor({ state: "detached" });
    expect((await api("GET", "/v1/fields")).data.some((f: Json) => f.key === "lifetime_value")).toBe(false);
  });
});
