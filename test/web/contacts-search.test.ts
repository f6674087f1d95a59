/**
 * The contacts page searches every contact on the server (not only the page shown),
 * shows how many match, and lists one segment's members, kept in the URL over a reload.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, label: string, option: string) {
  await page.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).click();
}

const rowsText = async (page: Page) => page.getByRole("table").locator("tbody tr").allTextContents();

describe("web app: contacts search, total and segment", () => {
  let env: WebEnv;
  let page: Page;
  let french: string;
  beforeAll(async () => {
    // 300 contacts user0 … user299, countries in turn FR, US, DE, GB, ES: 60 French.
    env = await startWebEnv(300);
    const c = await env.s.call("POST", "/v1/contacts", {
      email: "kim@late.example",
      first_name: "Kim",
      last_name: "Okafor",
      external_id: "CRM-4242",
      country: "GB",
    });
    expect(c.status, c.text).toBe(201);
    const seg = await env.s.call("POST", "/v1/segments", { name: "French", rule_text: 'country = "FR"' });
    expect(seg.status, seg.text).toBe(201);
    french = seg.body.id;
    page = await signedIn(env, "/contacts");
  });
  afterAll(async () => {
    await env?.stop();
  });

  it("shows the total and finds a contact of a later page by a part of its email, name or external id", async () => {
    await page.getByTestId("contacts-total").getByText("301 contacts", { exact: true }).waitFor();
    expect(await page.getByRole("table").locator("tbody tr").count()).toBe(25);
    expect((await rowsText(page)).join("\n")).not.toContain("user287@example.com");

    const search = page.getByLabel("Search (email or name)");
    await search.fill("USER287@");
    await page.getByTestId("contacts-total").getByText('1 contact matching "USER287@"').waitFor();
    expect(await rowsText(page)).toEqual([expect.stringContaining("user287@example.com")]);
    expect(new URL(page.url()).searchParams.get("q")).toBe("USER287@");

    // While the next search's answer is on its way, the previous answer stays on screen
    // labelled with its own search, not the one just typed.
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    await page.route(/\/v1\/contacts\?.*q=okafor/, async (route) => {
      await held;
      await route.continue();
    });
    const asked = page.waitForRequest(/\/v1\/contacts\?.*q=okafor/);
    await search.fill("okafor");
    await asked;
    const total = page.getByTestId("contacts-total");
    expect(await total.textContent()).toContain('1 contact matching "USER287@"');
    expect(await rowsText(page)).toEqual([expect.stringContaining("user287@example.com")]);
    release();
    await total.getByText('1 contact matching "okafor"').waitFor();
    expect(await rowsText(page)).toEqual([expect.stringContaining("kim@late.example")]);
    await page.unroute(/\/v1\/contacts\?.*q=okafor/);

    await search.fill("crm-42");
    await page.getByTestId("contacts-total").getByText('1 contact matching "crm-42"').waitFor();
    expect(await rowsText(page)).toEqual([expect.stringContaining("kim@late.example")]);

    // user28, user280 … user289: 11 matches, not only the page's.
    await search.fill("user28");
    await page.getByTestId("contacts-total").getByText('11 contacts matching "user28"').waitFor();
    expect(await page.getByRole("table").locator("tbody tr").count()).toBe(11);

    await search.fill("");
    await page.getByTestId("contacts-total").getByText("301 contacts", { exact: true }).waitFor();
  });

  it("lists a segment's members once switched to it, and keeps it over a reload", async () => {
    await pick(page, "Segment", "French");
    await page.getByTestId("contacts-total").getByText("60 contacts", { exact: true }).waitFor();
    await eventually(async () => new URL(page.url()).searchParams.get("segment") === french, 5000, "url");
    const check = async () => {
      const countries = await page.getByRole("table").locator("tbody tr td:nth-child(3)").allTextContents();
      expect(countries).toEqual(Array(25).fill("FR"));
    };
    await check();

    await page.reload();
    await page.getByTestId("contacts-total").getByText("60 contacts", { exact: true }).waitFor();
    expect(await page.getByLabel("Segment", { exact: true }).first().inputValue()).toBe("French");
    await check();

    // Search within the segment: user5, user50, user55 are French (i % 5 = 0).
    await page.getByLabel("Search (email or name)").fill("user5");
    await page.getByTestId("contacts-total").getByText('3 contacts matching "user5"').waitFor();
    const found = (await rowsText(page)).map((r) => r.match(/user\d+@example\.com/)?.[0]).sort();
    expect(found).toEqual(["user50@example.com", "user55@example.com", "user5@example.com"]);

    await page.getByLabel("Search (email or name)").fill("");
    await pick(page, "Segment", "All contacts");
    await page.getByTestId("contacts-total").getByText("301 contacts", { exact: true }).waitFor();
    expect(new URL(page.url()).searchParams.get("segment")).toBeNull();
  });
});
