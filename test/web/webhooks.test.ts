/**
 * Webhooks in the web app: a bad URL refused beside its field; a subscription made in
 * the form to a local receiver, its signing secret shown once; on its page a test
 * delivery acknowledged and logged as delivered, a real segment change delivered, a
 * redelivery of the test sent again with the same id, the secret rotated (the new one
 * shown once, the old one still signing), and deleting after a confirmation.
 *
 * `SLICE_UI_SCREENSHOTS=1` also writes docs/ui-webhooks.png (a webhook's page, 1280×800).
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { Webhook as Verifier } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestServer } from "../support/server.ts";
import { ensureWebBuilt, launchBrowser, signedIn, type WebEnv } from "./support.ts";

const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** Acknowledges every POST with 204 and keeps what it was sent. */
async function startReceiver() {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slice-hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Whether `secret` signed this request the Standard Webhooks way. */
function signedWith(secret: string, r: Received): boolean {
  try {
    new Verifier(secret).verify(r.body, r.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
}

describe("web app: webhooks", () => {
  let env: WebEnv;
  let page: Page;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let secret = "";
  let webhookId = "";

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
    receiver = await startReceiver();
    const seg = await s.call("POST", "/v1/segments", {
      name: "France",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });
    expect(seg.status, seg.text).toBe(201);
    page = await signedIn(env);
  });
  afterAll(async () => {
    await env?.stop();
    await receiver?.close();
  });

  it("is in the navigation, and shows the server's refusal of a URL beside its field", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("heading", { name: "Webhooks", exact: true }).waitFor();
    await page.getByText("No webhooks yet.").waitFor();
    const url = page.getByLabel(/^URL/);
    await url.fill("ftp://example.com/hook");
    await page.getByRole("button", { name: "Create webhook" }).click();
    await page.getByText("see the field marked above").waitFor();
    expect(await url.getAttribute("aria-invalid")).toBe("true");
    expect(await url.evaluate((el) => el.closest(".mantine-InputWrapper-root")?.textContent)).toMatch(
      /http/i,
    );
    expect((await env.s.call("GET", "/v1/webhooks")).body.data).toEqual([]);
  });

  it("creates a webhook for one segment and shows its signing secret once", async () => {
    await page.getByLabel(/^URL/).fill(receiver.url);
    await page.getByRole("textbox", { name: "Segment" }).click();
    await page.getByRole("option", { name: "France", exact: true }).click();
    await page.getByRole("button", { name: "Create webhook" }).click();
    const panel = page.getByTestId("new-webhook");
    await panel.getByText("shown only this once").waitFor();
    secret = await page.getByTestId("new-webhook-secret").inputValue();
    expect(secret).toMatch(/^whsec_/);
    await panel.getByRole("button", { name: "Copy signing secret" }).waitFor();

    const row = page.getByTestId("webhooks-table").locator("tbody tr").filter({ hasText: receiver.url });
    await row.getByText("segment.entered").waitFor();
    await row.getByText("segment.exited").waitFor();
    await row.getByTestId("webhook-segment").getByText("France").waitFor();
    await row.getByText(/just now|s ago/).waitFor();
    webhookId = (await row.getAttribute("data-webhook")) ?? "";
    expect(webhookId).not.toBe("");

    await panel.getByRole("button", { name: "I have copied it" }).click();
    await panel.waitFor({ state: "detached" });
    expect(await page.content()).not.toContain(secret);
    const listed = (await env.s.call("GET", "/v1/webhooks")).body.data;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: webhookId,
      url: receiver.url,
      events: ["segment.entered", "segment.exited"],
    });
    expect(JSON.stringify(listed)).not.toContain(secret);
  });

  it("sends a test delivery, logged as delivered, and delivers a segment change", async () => {
    await page.getByTestId("webhooks-table").getByRole("link", { name: receiver.url }).click();
    await page.getByRole("heading", { name: receiver.url }).waitFor();
    await page.getByText("No deliveries yet").waitFor();

    await page.getByRole("button", { name: "Send test delivery" }).click();
    await page.getByTestId("test-result").getByText("HTTP 204").waitFor();
    const test = page.getByTestId("deliveries-table").locator("tbody tr").filter({ hasText: "test event" });
    await test.getByTestId("delivery-status").getByText("delivered").waitFor();
    expect(await test.getByTestId("delivery-attempts").textContent()).toBe("1");
    await test
      .getByText(/just now|s ago/)
      .first()
      .waitFor();
    expect(receiver.received).toHaveLength(1);
    const sent = receiver.received[0]!;
    expect(JSON.parse(sent.body)).toMatchObject({ type: "webhook.test", data: { webhook_id: webhookId } });
    expect(signedWith(secret, sent)).toBe(true);

    const added = await env.s.call("POST", "/v1/contacts", { email: "hook@example.com", country: "FR" });
    expect([200, 201], added.text).toContain(added.status);
    const change = page
      .getByTestId("deliveries-table")
      .locator("tbody tr")
      .filter({ hasText: "segment change" });
    await change.getByTestId("delivery-status").getByText("delivered").waitFor();
    const entered = await eventually(
      () => receiver.received.find((r) => JSON.parse(r.body).type === "segment.entered"),
      5000,
      "the entry delivered",
    );
    expect(JSON.parse(entered!.body).data.contact_id).toBe(added.body.id);
  });

  it("redelivers a past delivery with the same payload", async () => {
    const test = page.getByTestId("deliveries-table").locator("tbody tr").filter({ hasText: "test event" });
    const testId = await test.getAttribute("data-delivery");
    const before = receiver.received.length;
    await test.getByRole("button", { name: `Redeliver #${testId}` }).click();
    const again = page
      .getByTestId("deliveries-table")
      .locator("tbody tr")
      .filter({ hasText: `redelivery of #${testId}` });
    await again.getByTestId("delivery-status").getByText("delivered").waitFor();
    await eventually(() => receiver.received.length === before + 1, 5000, "the redelivery received");
    const first = receiver.received[0]!;
    const repeat = receiver.received.at(-1)!;
    expect(repeat.body).toBe(first.body);
    expect(repeat.headers["webhook-id"]).toBe(first.headers["webhook-id"]);
  });

  it("rotates the secret: the new one shown once, the old one valid 24 h beside it", async () => {
    await page.getByRole("button", { name: "Rotate secret" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("stays valid for 24 hours").waitFor();
    await dialog.getByRole("button", { name: "Rotate secret" }).click();
    const panel = page.getByTestId("rotated-secret");
    await panel.getByText("shown only this once").waitFor();
    await panel.getByText(/previous secret stays valid for 24 hours/).waitFor();
    const fresh = await page.getByTestId("rotated-secret-secret").inputValue();
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(secret);
    const read = (await env.s.call("GET", `/v1/webhooks/${webhookId}`)).body;
    expect(read.previous_secret_expires_at).not.toBeNull();
    expect(JSON.stringify(read)).not.toContain(fresh);

    // Signed with both while the old one overlaps.
    const before = receiver.received.length;
    await page.getByRole("button", { name: "Send test delivery" }).click();
    await eventually(() => receiver.received.length === before + 1, 5000, "the second test received");
    const signed = receiver.received.at(-1)!;
    expect(signedWith(fresh, signed)).toBe(true);
    expect(signedWith(secret, signed)).toBe(true);

    await panel.getByRole("button", { name: "I have copied it" }).click();
    await panel.waitFor({ state: "detached" });
    await page.getByTestId("rotation").getByText("signed with both").waitFor();
    expect(await page.content()).not.toContain(fresh);

    if (process.env.SLICE_UI_SCREENSHOTS) {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.getByTestId("test-result").waitFor();
      await page.waitForTimeout(500);
      await page.screenshot({ path: `${DOCS}ui-webhooks.png` });
      await page.setViewportSize({ width: 1400, height: 1000 });
    }
  });

  it("deletes a webhook after a confirmation", async () => {
    await page.getByRole("button", { name: "Delete webhook" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("cannot be undone").waitFor();
    await dialog.getByRole("button", { name: "Delete webhook" }).click();
    await page.waitForURL(/\/webhooks$/);
    await page.getByText("No webhooks yet.").waitFor();
    expect((await env.s.call("GET", "/v1/webhooks")).body.data).toEqual([]);
  });
});
