/**
 * Custom fields in the web app: built-in and custom fields listed, a bad key refused
 * beside its input with the server's message, a field declared and listed; the
 * "Birthday this week" template in a workspace without `birthday` offering to declare it
 * (key and type filled in) and coming back to the editor with the rule, now valid; and
 * the favicon served.
 *
 * `SLICE_UI_SCREENSHOTS=1` also writes docs/ui-fields.png (the fields page, 1280×800).
 */
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestServer } from "../support/server.ts";
import { ensureWebBuilt, launchBrowser, signedIn, type WebEnv } from "./support.ts";

const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));

describe("web app: custom fields", () => {
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

  const openFields = async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Fields" }).click();
    await page.getByRole("heading", { name: "Fields", exact: true }).waitFor();
  };
  const row = (key: string) => page.getByTestId("fields-table").locator(`tbody tr[data-field="${key}"]`);

  it("lists the built-in fields, and shows the server's refusal of a key beside it", async () => {
    await openFields();
    await row("email").getByText("built-in").waitFor();
    await row("country").getByText("Text").waitFor();
    await page.getByText("no custom field yet").waitFor();

    const key = page.getByLabel(/^Key/);
    await key.fill("Bad Key");
    await page.getByRole("button", { name: "Declare field" }).click();
    await page.getByText("see the field marked above").waitFor();
    expect(await key.getAttribute("aria-invalid")).toBe("true");
    const beside = await key.evaluate((el) => el.closest(".mantine-InputWrapper-root")?.textContent ?? "");
    expect(beside).toContain("expected lower-case letters");

    await key.fill("email");
    await page.getByRole("button", { name: "Declare field" }).click();
    await eventuallyText(key, "shadows the built-in field");
    expect(
      (await env.s.call("GET", "/v1/fields")).body.data.some((f: { builtin: boolean }) => !f.builtin),
    ).toBe(false);
  });

  it("declares a custom field and lists it", async () => {
    await page.getByLabel(/^Key/).fill("plan");
    await page.getByRole("textbox", { name: "Type" }).click();
    await page.getByRole("option", { name: "Number (number)" }).click();
    await page.getByLabel(/^Label/).fill("Plan tier");
    await page.getByRole("button", { name: "Declare field" }).click();
    await page.getByTestId("new-field").getByText("“plan” declared").waitFor();
    expect(await page.getByLabel(/^Key/).getAttribute("aria-invalid")).not.toBe("true");
    await row("plan").getByText("custom").waitFor();
    await row("plan").getByText("Plan tier").waitFor();
    await row("plan").getByText("Number").waitFor();
    await page.getByText("1 custom").waitFor();
    const listed = (await env.s.call("GET", "/v1/fields")).body.data.find(
      (f: { key: string }) => f.key === "plan",
    );
    expect(listed).toMatchObject({ key: "plan", type: "number", label: "Plan tier", builtin: false });

    if (process.env.SLICE_UI_SCREENSHOTS) {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: `${DOCS}ui-fields.png` });
      await page.setViewportSize({ width: 1400, height: 1000 });
    }
  });

  it("offers to declare the field a template needs, pre-filled, and comes back to the rule", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    await page.getByRole("heading", { name: "Create segment" }).waitFor();
    await page.getByRole("textbox", { name: "Start from a template" }).click();
    await page.getByRole("option", { name: "Birthday this week", exact: true }).click();
    const issue = page.getByTestId("rule-issue");
    await issue.getByText('unknown field "birthday"').waitFor();
    await issue.getByRole("link", { name: "Declare field birthday" }).click();

    await page.getByRole("heading", { name: "Fields", exact: true }).waitFor();
    const url = new URL(page.url());
    expect(url.pathname).toBe("/fields");
    expect(url.searchParams.get("key")).toBe("birthday");
    expect(url.searchParams.get("type")).toBe("date");
    expect(await page.getByLabel(/^Key/).inputValue()).toBe("birthday");
    expect(await page.getByRole("textbox", { name: "Type" }).inputValue()).toBe("Date (date)");
    await page.getByRole("button", { name: "Declare field" }).click();
    await page.getByTestId("new-field").getByText("“birthday” declared").waitFor();
    await row("birthday").getByText("Date").waitFor();

    await page.getByTestId("new-field").getByRole("link", { name: "Back to the segment" }).click();
    await page.getByRole("heading", { name: "Create segment" }).waitFor();
    await page.getByTestId("preview-count").waitFor();
    expect(await page.getByTestId("rule-issue").count()).toBe(0);
    expect(await page.getByRole("textbox", { name: "Field" }).inputValue()).toBe("birthday");
  });

  it("serves a favicon, linked from the app's page", async () => {
    const ico = await fetch(`${env.s.url}/favicon.ico`);
    expect(ico.status).toBe(200);
    expect(ico.headers.get("content-type")).toMatch(/^image\//);
    const bytes = new Uint8Array(await ico.arrayBuffer());
    expect([...bytes.slice(0, 4)]).toEqual([0, 0, 1, 0]); // an ICO header
    const svg = await fetch(`${env.s.url}/favicon.svg`);
    expect(svg.status).toBe(200);
    expect(await svg.text()).toContain("<svg");
    const links = await page.locator('link[rel="icon"]').all();
    const linked = await Promise.all(links.map((l) => l.getAttribute("href")));
    expect(linked).toEqual(["/favicon.svg", "/favicon.ico"]);
    // Its name does not change with its content, so it is not cached for good like /assets.
    expect(ico.headers.get("cache-control")).not.toMatch(/immutable/);
  });

  it("serves the app at /fields, /webhooks and a webhook's page, so they can be reloaded", async () => {
    for (const path of ["/fields", "/fields?key=birthday&type=date", "/webhooks", "/webhooks/wh_x"]) {
      const res = await fetch(env.s.url + path);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
    }
  });
});

/** Waits until the input's wrapper (its label, description and error) says `text`. */
async function eventuallyText(input: ReturnType<Page["getByLabel"]>, text: string): Promise<void> {
  await eventually(
    async () =>
      (await input.evaluate((el) => el.closest(".mantine-InputWrapper-root")?.textContent ?? "")).includes(
        text,
      ),
    5000,
    `"${text}" beside the input`,
  );
}
