/**
 * The segment editor's Text tab: the rule in its text form as the server prints it,
 * read back by the server as it is typed (the preview follows), syntax errors under the
 * editor with their line, column and caret, the visual builder showing the rule read
 * from the text, and a save from the text tab sending `rule_text`.
 */
import type { Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Json } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

describe("web app: the rule as text", () => {
  let env: WebEnv;
  let page: Page;
  const writes: Request[] = [];
  beforeAll(async () => {
    env = await startWebEnv(60);
    page = await signedIn(env);
    page.on("request", (r) => {
      if ((r.method() === "POST" || r.method() === "PUT") && /\/v1\/segments(\/seg_[^/]+)?$/.test(r.url()))
        writes.push(r);
    });
  });
  afterAll(async () => {
    await env?.stop();
  });

  const text = () => page.getByTestId("rule-text");
  const shown = async () =>
    Number((await page.getByTestId("preview-count").textContent())!.replace(/,/g, ""));
  const preview = async (body: Json) => (await env.s.call("POST", "/v1/segments/preview", body)).body;

  it("shows the rule as the server prints it, and previews the text as it is typed", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    await page.getByLabel("Name").fill("Written by hand");
    await page.getByTestId("preview-count").waitFor();
    await page.getByRole("tab", { name: "Text" }).click();
    const start = await preview({
      rule: { type: "and", conditions: [{ type: "field", field: "status", op: "eq", value: "subscribed" }] },
    });
    await eventually(async () => (await text().inputValue()) === start.rule_text, 5000, "the printed rule");

    const typed = 'country = "FR"\nand score >= 30';
    await text().fill(typed);
    const expected = (await preview({ rule_text: typed })).count as number;
    expect(expected).toBeGreaterThan(0);
    expect(expected).not.toBe(start.count);
    await eventually(async () => (await shown()) === expected, 5000, "the text's count");
  });

  it("shows a syntax error with its line, column and a caret under the place", async () => {
    const bad = 'country = "FR"\nand score >=';
    const api = await env.s.call("POST", "/v1/segments/preview", { rule_text: bad });
    expect(api.status).toBe(400);
    const { line, column, caret } = api.body.error.details;
    expect(line).toBe(2);
    await text().fill(bad);
    const error = page.getByTestId("rule-text-error");
    await error.getByText(`Line ${line}, column ${column}:`, { exact: false }).waitFor();
    expect(await error.getByTestId("rule-text-caret").textContent()).toBe(caret);
    expect(caret.split("\n")[1]).toMatch(/^ *\^$/);
    // Back to the visual builder refused while the text does not read.
    await page.getByRole("tab", { name: "Visual" }).click();
    await page.getByTestId("switch-error").waitFor();
    expect(await page.getByRole("tab", { name: "Text" }).getAttribute("aria-selected")).toBe("true");
  });

  it("switches back to the visual builder showing the rule read from the text", async () => {
    await text().fill('country = "FR"\nand score >= 30');
    await page.getByTestId("rule-text-error").waitFor({ state: "detached" });
    await page.getByRole("tab", { name: "Visual" }).click();
    const editor = page.getByTestId("rule-editor");
    await editor.waitFor();
    const first = editor.locator('[data-path="rule.conditions[0]"]');
    const second = editor.locator('[data-path="rule.conditions[1]"]');
    expect(await first.getByLabel("Value", { exact: true }).inputValue()).toBe("FR");
    expect(await second.getByLabel("Value", { exact: true }).inputValue()).toBe("30");
    // Edited visually, the text tab prints the edit.
    await second.getByLabel("Value", { exact: true }).fill("40");
    await page.getByRole("tab", { name: "Text" }).click();
    await eventually(
      async () => (await text().inputValue()).includes("score >= 40"),
      5000,
      "the edit printed",
    );
  });

  it("saves from the text tab by sending rule_text", async () => {
    const typed = 'country in ("FR", "DE")\nand score < 20';
    await text().fill(typed);
    const expected = (await preview({ rule_text: typed })).count as number;
    await eventually(async () => (await shown()) === expected, 5000, "previewed");
    writes.length = 0;
    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(/\/segments\/seg_[^/]+$/);
    const sent = writes[0]!.postDataJSON() as Json;
    expect(sent.rule_text).toBe(typed);
    expect(sent.rule).toBeUndefined();
    const saved = (await env.s.call("GET", `/v1/segments/${page.url().split("/").pop()}`)).body;
    expect(saved.rule).toEqual((await preview({ rule_text: typed })).rule);
    expect(saved.size).toBe(expected);
  });

  it("edits a saved segment as text: its text shown, the edit diff previewed, the text saved with PUT", async () => {
    const seg = await env.s.call("POST", "/v1/segments", { name: "France", rule_text: 'country = "FR"' });
    expect(seg.status, seg.text).toBe(201);
    await page.goto(`${env.s.url}/segments/${seg.body.id}/edit`);
    await page.getByTestId("preview-count").waitFor();
    await page.getByRole("tab", { name: "Text" }).click();
    await eventually(async () => (await text().inputValue()) === seg.body.rule_text, 5000, "its text");
    await text().fill('country = "DE"');
    await page.getByTestId("diff-entered").waitFor();
    writes.length = 0;
    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(new RegExp(`/segments/${seg.body.id}$`));
    expect(writes[0]!.method()).toBe("PUT");
    expect((writes[0]!.postDataJSON() as Json).rule_text).toBe('country = "DE"');
    const saved = (await env.s.call("GET", `/v1/segments/${seg.body.id}`)).body;
    expect(saved.rule).toEqual({ type: "field", field: "country", op: "eq", value: "DE" });
  });
});
