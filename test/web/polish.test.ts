/**
 * The web app says what it sends and what it shows: property filter values typed by the
 * user, empty values refused in place, a delete refused while the segment is in use,
 * the contact profile in words and the workspace's zone, template descriptions.
 */
import { isDeepStrictEqual } from "node:util";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, scope: ReturnType<Page["locator"]>, label: string, option: string) {
  await scope.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).click();
}

describe("web app: values as typed, empty values, delete in use, profile, templates", () => {
  let env: WebEnv;
  let page: Page;
  // The rule of each preview the page asked for, latest last.
  const previews: unknown[] = [];
  beforeAll(async () => {
    env = await startWebEnv(60);
    page = await signedIn(env);
    page.on("request", (r) => {
      if (r.method() === "POST" && r.url().endsWith("/v1/segments/preview"))
        previews.push((r.postDataJSON() as { rule: unknown }).rule);
    });
  });
  afterAll(async () => {
    await env?.stop();
  });

  const lastPreview = () => previews[previews.length - 1];
  const shown = async () =>
    Number((await page.getByTestId("preview-count").textContent())!.replace(/,/g, ""));
  const count = async (rule: unknown) =>
    (await env.s.call("POST", "/v1/segments/preview", { rule })).body.count as number;

  it("sends a property filter's value with the type picked beside it, text by default", async () => {
    const now = Date.now();
    const order = (i: number, product_id: unknown) => ({
      type: "order_placed",
      contact: { email: `user${i}@example.com` },
      timestamp: new Date(now - 3600_000).toISOString(),
      properties: { product_id, amount: 10 },
    });
    const e = await env.s.call("POST", "/v1/events", [
      order(1, "123"),
      order(3, "123"),
      order(5, "123"),
      order(7, 123),
    ]);
    expect(e.body.errors).toEqual([]);

    await page.goto(`${env.s.url}/segments/new`);
    await page.getByLabel("Name").fill("Bought product 123");
    const root = page.locator('[data-path="rule"]');
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Event condition" }).filter({ visible: true }).click();
    const ev = page.locator('[data-path="rule.conditions[1]"]');
    await ev.getByLabel("Event", { exact: true }).fill("order_placed");
    await ev.getByRole("button", { name: "+ where property…" }).click();
    await ev.getByLabel("Property", { exact: true }).fill("product_id");
    expect(await ev.getByLabel("Compare as").inputValue()).toBe("text");
    await ev.getByLabel("Property value", { exact: true }).fill("123");

    const asText = (value: unknown) => ({
      type: "and",
      conditions: [
        { type: "field", field: "status", op: "eq", value: "subscribed" },
        {
          type: "event",
          event: "order_placed",
          window: { in_last: "30d" },
          where: [{ property: "product_id", op: "eq", value }],
        },
      ],
    });
    await eventually(() => isDeepStrictEqual(lastPreview(), asText("123")), 5000, "text sent");
    const textCount = await count(asText("123"));
    expect(textCount).toBeGreaterThan(0);
    await eventually(async () => (await shown()) === textCount, 5000, "count of the text filter");

    // Switched to a number, the same digits are sent as a number.
    await pick(page, ev, "Compare as", "number");
    await eventually(() => isDeepStrictEqual(lastPreview(), asText(123)), 5000, "number sent");
    expect(await ev.getByLabel("Property value", { exact: true }).inputValue()).toBe("123");
    // And as yes / no, a boolean.
    await pick(page, ev, "Compare as", "yes / no");
    await eventually(() => isDeepStrictEqual(lastPreview(), asText(true)), 5000, "boolean sent");

    await pick(page, ev, "Compare as", "text");
    await ev.getByLabel("Property value", { exact: true }).fill("123");
    await eventually(() => isDeepStrictEqual(lastPreview(), asText("123")), 5000, "text again");
    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(/\/segments\/seg_/);
    const saved = (await env.s.call("GET", `/v1/segments/${page.url().split("/").pop()}`)).body;
    expect(saved.rule).toEqual(asText("123"));
  });

  it("shows an emptied number as an error beside it, sends no 0 and will not save", async () => {
    const rule = {
      type: "and",
      conditions: [
        { type: "field", field: "score", op: "gte", value: 50 },
        { type: "event", event: "email_sent", window: { in_last: "30d" }, op: "gte", value: 1 },
      ],
    };
    const created = await env.s.call("POST", "/v1/segments", { name: "Scored", rule });
    expect(created.status).toBe(201);
    await page.goto(`${env.s.url}/segments/${created.body.id}/edit`);
    const field = page.locator('[data-path="rule.conditions[0]"]');
    const ev = page.locator('[data-path="rule.conditions[1]"]');
    const save = page.getByRole("button", { name: "Save segment" });
    await field.getByLabel("Value", { exact: true }).fill("");
    await field.getByText("enter a number").waitFor();
    await ev.getByLabel("Measure value", { exact: true }).fill("");
    await ev.getByText("enter a number").waitFor();
    await page.getByTestId("empty-values").getByText("2 values are empty").waitFor();
    expect(await save.isDisabled()).toBe(true);
    // What is previewed carries the emptiness, not a 0 that would match everyone.
    await eventually(
      () => {
        const r = lastPreview() as { conditions: { value?: unknown }[] };
        return r?.conditions?.[0]?.value === null && r.conditions[1]?.value === null;
      },
      5000,
      "empty numbers previewed as null",
    );

    await field.getByLabel("Value", { exact: true }).fill("40");
    await ev.getByLabel("Measure value", { exact: true }).fill("2");
    await page.getByTestId("empty-values").waitFor({ state: "detached" });
    expect(await field.getByText("enter a number").count()).toBe(0);
    await save.click();
    await page.waitForURL(new RegExp(`/segments/${created.body.id}$`));
    const saved = (await env.s.call("GET", `/v1/segments/${created.body.id}`)).body;
    expect(saved.rule.conditions[0].value).toBe(40);
    expect(saved.rule.conditions[1].value).toBe(2);
  });

  it("shows an empty text value as an error beside it and will not save it", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    await page.getByLabel("Name").fill("By country");
    const root = page.locator('[data-path="rule"]');
    const save = page.getByRole("button", { name: "Save segment" });
    expect(await save.isDisabled()).toBe(false);
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Field condition" }).filter({ visible: true }).click();
    const field = page.locator('[data-path="rule.conditions[1]"]');
    await field.getByText("enter a value").waitFor();
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page.getByRole("menuitem", { name: "Event condition" }).filter({ visible: true }).click();
    const ev = page.locator('[data-path="rule.conditions[2]"]');
    await ev.getByRole("button", { name: "+ where property…" }).click();
    await ev.getByLabel("Property", { exact: true }).fill("currency");
    await ev.getByTestId("where-filter").getByText("enter a value").waitFor();
    await page.getByTestId("empty-values").getByText("2 values are empty").waitFor();
    expect(await save.isDisabled()).toBe(true);

    await field.getByLabel("Value", { exact: true }).fill("FR");
    await page.getByTestId("empty-values").getByText("1 value is empty").waitFor();
    expect(await save.isDisabled()).toBe(true);
    await ev.getByLabel("Property value", { exact: true }).fill("EUR");
    await page.getByTestId("empty-values").waitFor({ state: "detached" });
    expect(await page.getByText("enter a value").count()).toBe(0);
    await save.click();
    await page.waitForURL(/\/segments\/seg_/);
    const saved = (await env.s.call("GET", `/v1/segments/${page.url().split("/").pop()}`)).body;
    expect(saved.rule.conditions[1]).toEqual({ type: "field", field: "country", op: "eq", value: "FR" });
    expect(saved.rule.conditions[2].where).toEqual([{ property: "currency", op: "eq", value: "EUR" }]);
  });

  it("keeps Delete segment disabled once the server says the segment is in use, until reopened", async () => {
    const used = (
      await env.s.call("POST", "/v1/segments", {
        name: "French",
        rule: { type: "field", field: "country", op: "eq", value: "FR" },
      })
    ).body;
    const user = (
      await env.s.call("POST", "/v1/segments", {
        name: "French subscribers",
        rule: { type: "segment", op: "in", segment: used.id },
      })
    ).body;
    await page.goto(`${env.s.url}/segments/${used.id}`);
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const confirm = page.getByRole("button", { name: "Delete segment" });
    await confirm.click();
    const alert = page.getByRole("dialog").getByRole("alert");
    await alert.getByText("This segment is in use").waitFor();
    await alert.getByRole("link", { name: `segment ${user.id}` }).waitFor();
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Cancel" }).click();

    // Once the use is gone, a new look at the dialog lets the delete through.
    expect((await env.s.call("DELETE", `/v1/segments/${user.id}`)).status).toBe(204);
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    expect(await page.getByRole("dialog").getByText("This segment is in use").count()).toBe(0);
    expect(await confirm.isDisabled()).toBe(false);
    await confirm.click();
    await page.waitForURL(/\/segments$/);
    expect((await env.s.call("GET", `/v1/segments/${used.id}`)).status).toBe(404);
  });

  it("shows the contact profile in words, its times in the workspace's zone with the ISO on hover", async () => {
    const made = await env.s.call("POST", "/v1/contacts/batch", [
      { email: "maud@example.com", first_name: "Maud", status: "non_subscribed", fields: { score: 7 } },
    ]);
    expect(made.body.errors).toEqual([]);
    const at = "2024-03-05T14:07:09.000Z";
    const ev = await env.s.call("POST", "/v1/events", [
      { type: "page_viewed", contact: { email: "maud@example.com" }, timestamp: at },
    ]);
    expect(ev.body.errors).toEqual([]);
    const c = (await env.s.call("GET", "/v1/contacts?limit=1000")).body.data.find(
      (x: { email: string }) => x.email === "maud@example.com",
    );
    const zone = (await env.s.call("GET", "/v1/workspace")).body.time_zone as string;
    const inZone = (iso: string) =>
      new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium", timeZone: zone });

    await page.goto(`${env.s.url}/contacts/${c.id}`);
    await page.getByRole("heading", { name: "Maud" }).waitFor();
    const row = (key: string) => page.locator(`tr[data-key="${key}"]`);
    expect((await row("email_status").locator("th").textContent())?.trim()).toBe("Email status");
    expect((await row("email_status").locator("td").textContent())?.trim()).toBe("Deliverable");
    expect((await row("status").locator("td").textContent())?.trim()).toBe("Not subscribed");
    expect((await row("first_name").locator("th").textContent())?.trim()).toBe("First name");
    // A custom field reads by its label, its key beneath.
    await page.locator('tr[data-key="score"] th').getByText("Score", { exact: true }).waitFor();
    expect(await page.getByText("email_status", { exact: true }).count()).toBe(0);
    expect(await page.getByText("non_subscribed", { exact: true }).count()).toBe(0);

    const created = row("created_at").locator("time");
    expect(await created.getAttribute("title")).toBe(c.created_at);
    expect(await created.textContent()).toBe(inZone(c.created_at));
    const when = page.getByTestId("timeline").locator("time").first();
    await when.waitFor();
    expect(await when.getAttribute("title")).toBe(at);
    expect(await when.textContent()).toBe(inZone(at));
    expect(await page.getByTestId("timeline").textContent()).not.toContain(at);
  });

  it("shows each template's description in the picker and the picked one's under it", async () => {
    const templates = (await env.s.call("GET", "/v1/segment-templates")).body.data as {
      id: string;
      name: string;
      description: string;
    }[];
    const tpl = templates.find((t) => t.description)!;
    expect(tpl).toBeDefined();
    await page.goto(`${env.s.url}/segments/new`);
    await page.getByRole("textbox", { name: "Start from a template" }).click();
    const option = page.getByRole("option", { name: tpl.name, exact: true });
    await option.getByText(tpl.description, { exact: true }).waitFor();
    // Every template's description is there, not only the first's.
    expect(await page.getByTestId("template-description").count()).toBe(templates.length);
    await option.click();
    await page.getByTestId("picked-template").getByText(tpl.description, { exact: true }).waitFor();
    expect(await page.getByLabel("Name").inputValue()).toBe(tpl.name);
  });
});
