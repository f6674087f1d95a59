/**
 * Destinations and scheduled exports in the web app: an http destination made in the
 * form (a bad URL refused beside its field, the signing secret shown once, created
 * paused) syncing a segment to the http stand-in once resumed, the runs table and a
 * run's per-contact outcomes (a failed row filtered, contact links), pause then a dry
 * run showing what would be sent; and a schedule made through the API listed, run now
 * (its file PUT to a local receiver), paused and deleted.
 *
 * `SLICE_UI_SCREENSHOTS=1` also writes docs/ui-destinations.png (the destination's page).
 */
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestServer } from "../support/server.ts";
import { type HttpStandIn, startHttpStandIn } from "../support/standins/http.ts";
import { ensureWebBuilt, launchBrowser, signedIn, type WebEnv } from "./support.ts";

const SECRET_KEY = "web-destinations-secret-key-0123";
const FRENCH = 20;
const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/**
 * A fixed address in front of the stand-in: the destination's URLs must exist before the
 * form is sent, and the stand-in can only be started once Slice has shown the secret it
 * made. Requests are passed on unchanged, so the stand-in verifies Slice's signatures.
 */
async function startForwarder() {
  let target: URL | null = null;
  const server = createServer((req, res) => {
    if (!target) {
      res.writeHead(503).end();
      return;
    }
    const up = request(
      new URL(req.url ?? "/", target),
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  const url = await listen(server);
  return {
    url,
    to: (t: string) => {
      target = new URL(t);
    },
    close: () => closeServer(server),
  };
}

/** Where scheduled exports are PUT: the bodies received by path. */
async function startPutReceiver() {
  const files = new Map<string, string>();
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
  const server = createServer((req, res) => {
    void read(req).then((body) => {
      if (req.method !== "PUT") return void res.writeHead(405).end();
      files.set(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname), body);
      res.writeHead(200).end();
    });
  });
  return { url: await listen(server), files, close: () => closeServer(server) };
}

async function openFromNav(page: Page, link: string, heading: string): Promise<void> {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link }).click();
  await page.getByRole("heading", { name: heading, exact: true }).waitFor();
}

describe("web app: destinations and scheduled exports", () => {
  let env: WebEnv;
  let page: Page;
  let forwarder: Awaited<ReturnType<typeof startForwarder>>;
  let stand: HttpStandIn | undefined;
  let segmentId = "";
  let destinationId = "";

  beforeAll(async () => {
    const [, s, browser] = await Promise.all([
      ensureWebBuilt(),
      startTestServer(
        { kind: "sqlite" },
        { secretKey: SECRET_KEY, allowInsecureExportTargets: true, destinationPollMs: 200 },
      ),
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
    forwarder = await startForwarder();
    const contacts = Array.from({ length: FRENCH + 10 }, (_, i) => ({
      email: `d${i}@example.com`,
      first_name: `Dest${i}`,
      last_name: "Tester",
      country: i < FRENCH ? "FR" : "DE",
      status: "subscribed",
    }));
    const b = await s.call("POST", "/v1/contacts/batch", contacts);
    expect(b.status, b.text).toBe(200);
    const seg = await s.call("POST", "/v1/segments", {
      name: "France",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });
    expect(seg.status, seg.text).toBe(201);
    segmentId = seg.body.id;
    page = await signedIn(env);
  });
  afterAll(async () => {
    await env?.stop();
    await forwarder?.close();
    await stand?.close();
  });

  it("serves the app at /destinations, /schedules and their detail pages, so they can be reloaded", async () => {
    for (const path of [
      "/destinations",
      "/destinations/dst_x",
      "/destinations/dst_x/runs/run_x",
      "/schedules",
      "/schedules/sch_x",
    ]) {
      const res = await fetch(env.s.url + path);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  /** Fills the form's common fields for an http destination of the French segment. */
  async function fillHttpForm(name: string, addUrl: string): Promise<void> {
    await page.getByLabel(/^Name/).fill(name);
    await page.getByRole("textbox", { name: "Segment" }).click();
    await page.getByRole("option", { name: "France", exact: true }).click();
    await page.getByLabel("Add URL").fill(addUrl);
    await page.getByLabel("Remove URL").fill(`${forwarder.url}/remove`);
  }

  it("shows the server's refusal of a URL beside its field", async () => {
    await openFromNav(page, "Destinations", "Destinations");
    await page.getByText("No destinations yet.").waitFor();
    await fillHttpForm("Broken", "ftp://example.com/add");
    await page.getByRole("button", { name: "Create destination" }).click();
    const addUrl = page.getByLabel("Add URL");
    await page.getByText(/^config\.add_url: /).waitFor();
    expect(await addUrl.getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Remove URL").getAttribute("aria-invalid")).not.toBe("true");
    expect((await env.s.call("GET", "/v1/destinations")).body.data).toEqual([]);
  });

  it("creates an http destination paused, shows its made secret once, and syncs once resumed", async () => {
    await fillHttpForm("CRM webhook", `${forwarder.url}/add`);
    await page.getByLabel("Create paused").check();
    await page.getByRole("button", { name: "Create destination" }).click();
    const panel = page.getByTestId("new-destination");
    await panel.getByText("shown only this once").waitFor();
    const secret = await page.getByTestId("new-destination-secret").inputValue();
    expect(secret).toMatch(/^whsec_/);

    // The receiver knows the secret it was shown.
    stand = await startHttpStandIn({ secret });
    forwarder.to(stand.url);

    const row = page.getByTestId("destinations-table").locator("tbody tr").filter({ hasText: "CRM webhook" });
    await row.getByTestId("destination-state").getByText("paused").waitFor();
    await row.getByText("France").waitFor();
    await row.getByTestId("destination-pending-adds").getByText(String(FRENCH), { exact: true }).waitFor();
    destinationId = (await row.getAttribute("data-destination")) ?? "";
    expect(destinationId).not.toBe("");
    await panel.getByRole("button", { name: "I have copied it" }).click();
    await panel.waitFor({ state: "detached" });
    // Never read back, in the list or the destination's own answer.
    expect(await page.content()).not.toContain(secret);
    expect((await env.s.call("GET", `/v1/destinations/${destinationId}`)).text).not.toContain(secret);
    expect(stand.calls).toEqual([]); // created paused: nothing sent

    await row.getByRole("link", { name: "CRM webhook" }).click();
    await page.getByRole("heading", { name: "CRM webhook" }).waitFor();
    await page.getByTestId("destination-state").getByText("paused").waitFor();
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByTestId("destination-state").getByText("live").waitFor();
    const full = page.getByTestId("runs-table").locator('tbody tr[data-kind="full"]');
    await full.and(page.locator('[data-state="succeeded"]')).waitFor();
    expect(await full.getByTestId("run-added").textContent()).toBe(String(FRENCH));
    expect(await full.getByTestId("run-failed").textContent()).toBe("0");
    await page.getByTestId("stat-added").getByText(String(FRENCH), { exact: true }).waitFor();
    await page.getByTestId("stat-pending-adds").getByText("0", { exact: true }).waitFor();
    expect(stand.audience().size).toBe(FRENCH);
    expect(stand.violations).toEqual([]);
  });

  it("shows a run's outcomes with links to the contacts, and filters the failed ones", async () => {
    // The next call is refused for its content: the lone new contact fails with the receiver's answer.
    stand!.fail(1, 400);
    const added = await env.s.call("POST", "/v1/contacts", {
      email: "late@example.com",
      first_name: "Late",
      last_name: "Comer",
      country: "FR",
      status: "subscribed",
    });
    expect([200, 201]).toContain(added.status);
    const partial = page
      .getByTestId("runs-table")
      .locator('tbody tr[data-kind="incremental"][data-state="partial"]');
    await partial.waitFor({ timeout: 15_000 });
    expect(await partial.getByTestId("run-failed").textContent()).toBe("1");

    await partial.getByRole("link", { name: "Outcomes" }).click();
    await page.getByTestId("run-stat-failed").getByText("1", { exact: true }).waitFor();
    await page.getByTestId("outcome-filter").getByText("failed", { exact: true }).click();
    await page.waitForURL(/status=failed$/);
    const rows = page.getByTestId("outcomes-table").locator("tbody tr");
    // The filtered page replaces the unfiltered one: wait for it rather than read mid-swap.
    await page.getByTestId("outcomes-table").locator('tbody tr[data-status="failed"]').first().waitFor();
    await eventually(async () => (await rows.count()) === 1, 5000, "only the failed outcome listed");
    expect(await rows.first().getAttribute("data-status")).toBe("failed");
    await rows
      .first()
      .getByText(/HTTP 400/)
      .waitFor(); // the receiver's answer, as recorded

    // The full run's outcomes: every French contact, sent, each linking to its contact.
    await page.getByRole("link", { name: "← CRM webhook" }).click();
    await page
      .getByTestId("runs-table")
      .locator('tbody tr[data-kind="full"]')
      .getByRole("link", { name: "Outcomes" })
      .click();
    const sent = page.getByTestId("outcomes-table").locator('tbody tr[data-status="ok"]');
    await sent.first().waitFor();
    await eventually(async () => (await sent.count()) === FRENCH, 5000, "every French contact's outcome");
    await sent.first().getByRole("link").click();
    await page.waitForURL(/\/contacts\/[^/]+$/);
    await page.getByRole("heading", { name: /^Dest\d+ Tester$/ }).waitFor();
    await page.goBack();
    await page.getByTestId("outcomes-table").waitFor();
  });

  it("pauses, then a dry run shows what the next sync would send, sending nothing", async () => {
    await page.goto(`${env.s.url}/destinations/${destinationId}`);
    await page.getByRole("heading", { name: "CRM webhook" }).waitFor();
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByTestId("destination-state").getByText("paused").waitFor();
    const callsBefore = stand!.calls.length;
    const b = await env.s.call(
      "POST",
      "/v1/contacts/batch",
      [0, 1, 2].map((i) => ({ email: `new${i}@example.com`, country: "FR", status: "subscribed" })),
    );
    expect(b.status, b.text).toBe(200);

    await page.getByRole("button", { name: "Dry run", exact: true }).click();
    await page.getByTestId("dry-run-would-add").getByText("3", { exact: true }).waitFor();
    await page.getByTestId("dry-run-would-remove").getByText("0", { exact: true }).waitFor();
    await page.getByTestId("stat-pending-adds").getByText("3", { exact: true }).waitFor();
    const request = page.getByTestId("dry-run-request").first();
    const shown = JSON.parse((await request.textContent()) ?? "null");
    expect(shown.body.destination_id).toBe(destinationId);
    expect(shown.body.contacts.map((c: { email: string }) => c.email).sort()).toEqual([
      "new0@example.com",
      "new1@example.com",
      "new2@example.com",
    ]);
    await page.getByText(`POST ${forwarder.url}/add`).waitFor();
    await page.getByTestId("runs-table").locator('tbody tr[data-kind="dry_run"]').waitFor();
    expect(stand!.calls.length).toBe(callsBefore);
    expect([...stand!.audience()].filter((e) => e.startsWith("new"))).toEqual([]);

    if (process.env.SLICE_UI_SCREENSHOTS) {
      await page.waitForTimeout(500);
      await page.screenshot({ path: `${DOCS}ui-destinations.png`, fullPage: true });
    }
  });

  it("deletes a destination after a confirmation", async () => {
    await page.getByRole("button", { name: "Delete destination" }).click();
    await page.getByRole("dialog").getByText("left as it is").waitFor();
    await page.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
    await page.waitForURL(/\/destinations$/);
    await page.getByText("No destinations yet.").waitFor();
  });

  it("lists a schedule made through the API, runs it now, pauses and deletes it", async () => {
    const receiver = await startPutReceiver();
    try {
      const made = await env.s.call("POST", "/v1/export-schedules", {
        name: "Nightly France",
        segment_id: segmentId,
        format: "csv",
        cron: "0 3 * * *",
        target: { kind: "http", url: `${receiver.url}/exports/{segment_id}.csv` },
      });
      expect(made.status, made.text).toBe(201);
      await openFromNav(page, "Scheduled exports", "Scheduled exports");
      const row = page
        .getByTestId("schedules-table")
        .locator("tbody tr")
        .filter({ hasText: "Nightly France" });
      await row.getByText("0 3 * * *").waitFor();
      await row.getByText(made.body.time_zone).waitFor();
      await row.getByText(`PUT ${receiver.url}/exports/{segment_id}.csv`).waitFor();
      await row.getByText("France", { exact: true }).waitFor();
      await row.getByTestId("schedule-state").getByText("active").waitFor();

      await row.getByRole("button", { name: "Run Nightly France now" }).click();
      await row.getByRole("link", { name: "Nightly France" }).click();
      await page.getByRole("heading", { name: "Nightly France" }).waitFor();
      const run = page.getByTestId("schedule-runs-table").locator('tbody tr[data-state="succeeded"]');
      await run.waitFor();
      // The segment had 21 French contacts then 3 more.
      expect(await run.getByTestId("schedule-run-rows").textContent()).toBe(String(FRENCH + 4));
      await run.getByText(`${receiver.url}/exports/${segmentId}.csv`).waitFor();
      const file = receiver.files.get(`/exports/${segmentId}.csv`) ?? "";
      expect(file).toContain("late@example.com");

      await page.getByRole("button", { name: "Pause Nightly France" }).click();
      await page.getByTestId("schedule-state").getByText("paused").waitFor();
      expect((await env.s.call("GET", `/v1/export-schedules/${made.body.id}`)).body.state).toBe("paused");
      await page.getByRole("button", { name: "Delete Nightly France" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Delete schedule" }).click();
      await page.waitForURL(/\/schedules$/);
      await page.getByText("No scheduled exports yet.").waitFor();
    } finally {
      await receiver.close();
    }
  });

  it("refuses a bad cron in the schedule form beside the field, naming the workspace's zone", async () => {
    await page.getByText(/in the workspace's time zone: \S+\./).waitFor();
    await page.getByRole("textbox", { name: "Segment" }).click();
    await page.getByRole("option", { name: "France", exact: true }).click();
    await page.getByLabel("Cron").fill("every night");
    await page.getByTestId("schedule-target-kind").getByText("HTTPS URL (PUT)").click();
    await page.getByLabel(/^URL/).fill("https://example.com/x.csv");
    await page.getByRole("button", { name: "Create schedule" }).click();
    await page.getByText(/^cron: invalid cron expression/).waitFor();
    expect(await page.getByLabel("Cron").getAttribute("aria-invalid")).toBe("true");
    await eventually(
      async () => (await env.s.call("GET", "/v1/export-schedules")).body.data.length === 0,
      2000,
      "no schedule made",
    );
  });
});
