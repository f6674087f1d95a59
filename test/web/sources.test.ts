/**
 * The Sources area: an ingest key made in the UI and listed with its role, the SDK
 * snippets carrying it, a Mailgun receiver made in the UI whose URL is then posted to
 * as Mailgun would (signed, and once with a wrong signature) while the page shows the
 * counters and deliveries arrive, deleting it, and revoking keys.
 */
import { randomUUID } from "node:crypto";
import RudderAnalytics from "@rudderstack/rudder-sdk-node";
import { Analytics } from "@segment/analytics-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postMailgun } from "../support/mailgun.ts";
import { eventually } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

/** The Sources page, reached as a user does, from the navigation. */
async function openSources(page: Page, tab?: string): Promise<void> {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sources" }).click();
  await page.getByRole("heading", { name: "Sources" }).waitFor();
  if (tab) await page.getByRole("tab", { name: tab }).click();
}

describe("web app: sources (keys, Segment SDKs, receivers)", () => {
  let env: WebEnv;
  let page: Page;
  beforeAll(async () => {
    env = await startWebEnv(20);
    page = await signedIn(env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  let ingestKey = "";

  it("serves the app at /sources and a receiver's page, so they can be reloaded", async () => {
    for (const path of ["/sources", "/sources?tab=receivers", "/sources/receivers/rcv_x"]) {
      const res = await fetch(env.s.url + path);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  it("creates an ingest key, lists it with its role, and fills the SDK snippets with it", async () => {
    await openSources(page);
    await page.getByLabel("Key name").fill("Website SDK");
    await page.getByLabel("Ingest (ingest)").check();
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = page.getByTestId("new-key-secret");
    await secret.waitFor();
    ingestKey = await secret.inputValue();
    expect(ingestKey).not.toBe("");
    const row = page.getByTestId("keys-table").getByRole("row", { name: /Website SDK/ });
    await row.getByText("ingest", { exact: true }).waitFor();
    // The row shows the key's prefix, never its secret.
    expect(await page.getByTestId("keys-table").textContent()).not.toContain(ingestKey);
    // It is the ingest key it says it is: it writes events and reads nothing.
    const asIngest = { key: ingestKey };
    expect(
      (
        await env.s.call(
          "POST",
          "/v1/events",
          { type: "app_opened", contact: { email: "user1@example.com" } },
          asIngest,
        )
      ).status,
    ).toBe(200);
    expect((await env.s.call("GET", "/v1/segments", undefined, asIngest)).status).toBe(403);

    await page.getByRole("tab", { name: "Segment / RudderStack" }).click();
    const code = page.getByRole("tabpanel");
    await code
      .getByText(
        `new Analytics({ writeKey: '${ingestKey}', host: '${env.s.url}', path: '/segment/v1/batch' })`,
      )
      .waitFor();
    await code
      .getByText(`new RudderAnalytics('${ingestKey}', { dataPlaneUrl: '${env.s.url}/segment' })`)
      .waitFor();
    await page.getByTestId("segment-accepted").getByText("0", { exact: true }).waitFor();

    // The snippets work as shown: both SDKs, set up with the key and origin the page gave,
    // send to Slice, and the counters on the page follow (plain events: e-commerce ones
    // such as Order Completed also store derived events).
    const analytics = new Analytics({ writeKey: ingestKey, host: env.s.url, path: "/segment/v1/batch" });
    const sdkErrors: unknown[] = [];
    analytics.on("error", (e) => sdkErrors.push(e));
    analytics.track({
      messageId: randomUUID(),
      userId: "ext-1",
      event: "Video Played",
      properties: { seconds: 42 },
    });
    await analytics.closeAndFlush();
    expect(sdkErrors).toEqual([]);
    await page.getByTestId("segment-accepted").getByText("1", { exact: true }).waitFor();
    const rudder = new RudderAnalytics(ingestKey, {
      dataPlaneUrl: `${env.s.url}/segment`,
      logLevel: "error",
    });
    rudder.track({ userId: "ext-1", event: "Button Clicked", properties: { button: "A1" } });
    await rudder.flush();
    await page.getByTestId("segment-accepted").getByText("2", { exact: true }).waitFor();
    expect(await page.getByTestId("segment-last-seen").textContent()).not.toBe("never");
  });

  it("creates a Mailgun receiver, shows its URL, and counts signed and forged deliveries", async () => {
    await openSources(page, "Receivers");
    await page.getByText("No receivers yet.").waitFor();
    await page.getByRole("textbox", { name: "Provider" }).click();
    await page.getByRole("option", { name: "Mailgun", exact: true }).click();
    await page.getByLabel("Receiver name").fill("Mailgun prod");
    const createButton = page.getByRole("button", { name: "Create receiver" });
    expect(await createButton.isDisabled()).toBe(true); // the signing key is needed
    await page.getByText("HTTP webhook signing key”").first().waitFor(); // where to find it
    const signingKey = "key-web-test-0123456789";
    await page.getByLabel("HTTP webhook signing key").fill(signingKey);
    await createButton.click();
    const urlInput = page.getByTestId("new-receiver-url");
    await urlInput.waitFor();
    const url = await urlInput.inputValue();
    expect(url).toMatch(new RegExp(`^${env.s.url.replace(/\./g, "\\.")}/hooks/\\S+$`));
    // The copy button puts it on the clipboard.
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: env.s.url });
    await page.getByTestId("new-receiver").getByRole("button", { name: "Copy URL" }).click();
    await page.getByTestId("new-receiver").getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(url);
    const row = page.getByTestId("receivers-table").locator("tbody tr");
    await row.getByText(url).waitFor();
    await row.getByText("Mailgun prod").waitFor();

    expect(await postMailgun(url, signingKey, "user3@example.com")).toBe(200);
    expect(await postMailgun(url, "key-forged", "user3@example.com")).toBe(401);
    // The list re-reads itself: the counters arrive without a reload.
    await row.getByTestId("receiver-accepted").getByText("1", { exact: true }).waitFor();
    await row.getByTestId("receiver-signature-failures").getByText("1", { exact: true }).waitFor();
    await row.getByTestId("receiver-rejected").getByText("0", { exact: true }).waitFor();
    // The event was stored on the contact.
    await eventually(
      async () => {
        const c = (await env.s.call("GET", "/v1/contacts?limit=100")).body.data.find(
          (x: { email: string }) => x.email === "user3@example.com",
        );
        const ev = (await env.s.call("GET", `/v1/contacts/${c.id}/events`)).body.data;
        return ev.some((e: { type: string }) => e.type === "email_delivered");
      },
      5000,
      "the delivered event on the contact",
    );

    // The detail view: counters and the recent deliveries, the forged one marked.
    await row.getByRole("link", { name: "Mailgun prod" }).click();
    await page.getByRole("heading", { name: "Mailgun prod" }).waitFor();
    expect(await page.getByTestId("receiver-url").inputValue()).toBe(url);
    await page.getByTestId("stat-accepted").getByText("1", { exact: true }).waitFor();
    await page.getByTestId("stat-signature-failures").getByText("1", { exact: true }).waitFor();
    const deliveries = page.getByTestId("recent-deliveries").locator("tbody tr");
    expect(await deliveries.count()).toBe(2);
    expect(await deliveries.nth(0).getAttribute("data-outcome")).toBe("signature_failed"); // newest first
    await deliveries.nth(0).getByText("signature failed").waitFor();
    await deliveries.nth(1).getByText("accepted").waitFor();
    expect(await page.getByText(signingKey).count()).toBe(0); // the secret is never read back
    await page.getByTestId("receiver-settings").getByText("set (never shown)").waitFor();

    // A later delivery appears without a reload.
    expect(await postMailgun(url, signingKey, "user4@example.com")).toBe(200);
    await page.getByTestId("stat-accepted").getByText("2", { exact: true }).waitFor();
    await eventually(async () => (await deliveries.count()) === 3, 10_000, "the third delivery");

    // Delete, after a confirmation.
    await page.getByRole("button", { name: "Delete receiver" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
    await page.waitForURL(/\/sources\?tab=receivers$/);
    await page.getByText("No receivers yet.").waitFor();
    expect(await postMailgun(url, signingKey, "user3@example.com")).toBe(404);
  });

  it("shows Postmark's URL with credentials once, after creating", async () => {
    await openSources(page, "Receivers");
    await page.getByRole("textbox", { name: "Provider" }).click();
    await page.getByRole("option", { name: "Postmark", exact: true }).click();
    await page.getByRole("button", { name: "Create receiver" }).click();
    const withCredentials = new URL(await page.getByTestId("new-receiver-url-credentials").inputValue());
    expect(withCredentials.username).not.toBe("");
    expect(withCredentials.password).not.toBe("");
    const listed = page.getByTestId("receivers-table").locator("tbody tr").filter({ hasText: "Postmark" });
    await listed.waitFor();
    expect(await listed.textContent()).not.toContain(withCredentials.password);
  });

  it("revokes a key after a confirmation, and shows the server's refusal to revoke the admin key", async () => {
    // A workspace key signs in and tries to revoke the admin key.
    const rw = (await env.s.call("POST", "/v1/keys", { name: "Ops", role: "read_write" })).body.key as string;
    const other = await env.browser.newPage({ viewport: { width: 1400, height: 1000 } });
    other.setDefaultTimeout(10_000);
    await other.goto(`${env.s.url}/sign-in`);
    await other.getByLabel("API key").fill(rw);
    await other.getByRole("button", { name: "Sign in" }).click();
    await other.getByTestId("workspace-name").getByText("Default").waitFor();
    await openSources(other);
    const adminRow = other.getByTestId("keys-table").getByRole("row").filter({ hasText: "admin" });
    await adminRow.getByRole("button", { name: /^Revoke/ }).click();
    await other.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
    const refusal = other.getByRole("dialog").getByRole("alert");
    await refusal.getByText("The key was not revoked").waitFor();
    await refusal.getByText("no workspace key can revoke the admin key").waitFor(); // the server's words
    await other.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    await other.close();
    expect((await env.s.call("GET", "/v1/segments")).status).toBe(200);

    // The admin revokes the ingest key made earlier: it is refused from then on.
    await openSources(page);
    await page.getByRole("button", { name: "Revoke Website SDK" }).click();
    await page
      .getByRole("dialog")
      .getByText(/cannot be undone/)
      .waitFor();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
    await page.getByRole("dialog").waitFor({ state: "detached" });
    await eventually(
      async () =>
        (await page
          .getByTestId("keys-table")
          .getByRole("row", { name: /Website SDK/ })
          .count()) === 0,
      5000,
      "the revoked key to leave the list",
    );
    expect(
      (
        await env.s.call(
          "POST",
          "/v1/events",
          { type: "x", contact: { email: "user1@example.com" } },
          { key: ingestKey },
        )
      ).status,
    ).toBe(401);
  });
});
