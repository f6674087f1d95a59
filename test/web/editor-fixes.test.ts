/**
 * The segment editor: the edit preview lists each contact once (those who would enter,
 * those who would leave, then a sample of the members who stay), and an emptied duration
 * amount or bucket value is shown as an error beside its input, previewed as empty, and
 * not saved, instead of turning into 1 or 0.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

describe("web app: edit preview lists, empty durations and buckets", () => {
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
  const lastPreview = () => previews[previews.length - 1] as { conditions: Record<string, unknown>[] };
  const emails = (scope: ReturnType<Page["locator"]>) =>
    scope.locator("tbody tr td:first-child").allTextContents();

  it("lists a contact once: entering, leaving, then members who stay", async () => {
    // Scores run 0..59: the segment holds scores 0..4, the edit widens it to 0..19.
    const seg = await env.s.call("POST", "/v1/segments", {
      name: "Low scores",
      rule: { type: "field", field: "score", op: "lt", value: 5 },
    });
    expect(seg.status, seg.text).toBe(201);
    await page.goto(`${env.s.url}/segments/${seg.body.id}/edit`);
    await page.getByLabel("Value", { exact: true }).fill("20");
    await page.getByTestId("diff-entered").getByText("+15 would enter").waitFor();
    await page.getByTestId("diff-exited").getByText("−0 would leave").waitFor();
    const entered = await emails(page.getByTestId("diff-entered-list"));
    expect(entered).toEqual(Array.from({ length: 10 }, (_, k) => `user${k + 5}@example.com`));
    // The server's sample is the first ten matches (scores 0..9): those entering are listed above.
    const sample = page.getByTestId("preview-sample");
    await sample.getByText("Already members, still matching").waitFor();
    const stay = await emails(sample);
    expect(stay).toEqual(Array.from({ length: 5 }, (_, k) => `user${k}@example.com`));
    expect(stay.filter((e) => entered.includes(e))).toEqual([]);
  });

  it("keeps the sample whole when creating a segment (no edit diff to list)", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    await page.getByTestId("preview-count").waitFor();
    const sample = page.getByTestId("preview-sample");
    await sample.getByText("Sample", { exact: true }).waitFor();
    await eventually(async () => (await emails(sample)).length === 10, 5000, "ten sampled");
  });

  it("shows an emptied duration amount and bucket value as errors, previews them empty, and will not save", async () => {
    const rule = {
      type: "and",
      conditions: [
        { type: "event", event: "email_opened", window: { in_last: "30d" }, op: "gte", value: 1 },
        { type: "bucket", seed: "split", op: "lt", value: 50 },
      ],
    };
    const seg = await env.s.call("POST", "/v1/segments", { name: "Half of the openers", rule });
    expect(seg.status, seg.text).toBe(201);
    await page.goto(`${env.s.url}/segments/${seg.body.id}/edit`);
    const ev = page.locator('[data-path="rule.conditions[0]"]');
    const bucket = page.locator('[data-path="rule.conditions[1]"]');
    const save = page.getByRole("button", { name: "Save segment" });
    await page.getByTestId("preview-count").waitFor();

    await ev.getByLabel("Window amount", { exact: true }).fill("");
    await ev.getByText("enter a number").waitFor();
    await page.getByTestId("empty-values").getByText("1 value is empty").waitFor();
    expect(await save.isDisabled()).toBe(true);
    // The amount stays empty: no 1 typed back into it, none previewed.
    expect(await ev.getByLabel("Window amount", { exact: true }).inputValue()).toBe("");
    await eventually(
      () => (lastPreview()?.conditions?.[0]?.window as { in_last?: string })?.in_last === "d",
      5000,
      "the window previewed without an amount",
    );

    await bucket.getByLabel("Bucket value", { exact: true }).fill("");
    await bucket.getByText("enter a number").waitFor();
    await page.getByTestId("empty-values").getByText("2 values are empty").waitFor();
    expect(await bucket.getByLabel("Bucket value", { exact: true }).inputValue()).toBe("");
    await eventually(
      () => lastPreview()?.conditions?.[1]?.value === null,
      5000,
      "the bucket previewed empty",
    );
    expect(await save.isDisabled()).toBe(true);

    await ev.getByLabel("Window amount", { exact: true }).fill("7");
    await bucket.getByLabel("Bucket value", { exact: true }).fill("15");
    await page.getByTestId("empty-values").waitFor({ state: "detached" });
    expect(await page.getByText("enter a number").count()).toBe(0);
    await save.click();
    await page.waitForURL(new RegExp(`/segments/${seg.body.id}$`));
    const saved = (await env.s.call("GET", `/v1/segments/${seg.body.id}`)).body;
    expect(saved.rule.conditions[0].window).toEqual({ in_last: "7d" });
    expect(saved.rule.conditions[1].value).toBe(15);
  });
});
