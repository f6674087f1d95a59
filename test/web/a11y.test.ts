/**
 * Every page of the web app checked with axe-core (no serious or critical violation),
 * and a segment created with the keyboard alone.
 *
 * The server holds the demo data (`slice serve --demo`, smaller) plus one of each thing a
 * page shows: a webhook with a delivery, a receiver, a destination with a dry run, a
 * schedule. `SLICE_UI_SCREENSHOTS=1` also writes every page to docs/ui-<page>.png at
 * 1280 × 800 (the gallery of docs/ui.md and the README); a webhook's and a destination's
 * pages are ui-webhooks.png and ui-destinations.png, their lists ui-*-list.png.
 */
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDemo } from "../../src/cli/demo.ts";
import { ADMIN_KEY, startTestServer } from "../support/server.ts";
import { ensureWebBuilt, launchBrowser, type WebEnv } from "./support.ts";

const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));
const SHOTS = process.env.SLICE_UI_SCREENSHOTS === "1";
const SECRET_KEY = "web-a11y-secret-key-0123456789ab";

/** The serious and critical violations of the page as it is, one line per element. */
async function violations(page: Page, where: string): Promise<string[]> {
  // Only the violations are read: axe then skips serialising every passing node.
  const r = await new AxeBuilder({ page }).options({ resultTypes: ["violations"] }).analyze();
  return r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) =>
      v.nodes.map(
        (n) =>
          `${where}: ${v.id} (${v.impact}) at ${n.target.join(" ")}: ${n.failureSummary?.split("\n")[1]}`,
      ),
    );
}

/** A local endpoint answering 200 to anything: the webhook's and the destination's far end. */
async function startSink(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Stop {
  /** What the page is called in the report and in docs/ui-<name>.png. */
  name: string;
  path: string;
  /** Waits until the page shows its data (not a loader). */
  ready(page: Page): Promise<void>;
  /** On the page already loaded, before the check (a tab picked, a menu opened). */
  act?(page: Page): Promise<void>;
}

describe("web app: accessibility of every page", () => {
  let env: WebEnv;
  let sink: Awaited<ReturnType<typeof startSink>>;
  let page: Page;
  const pageErrors: string[] = [];
  const ids = { webhook: "", receiver: "", destination: "", run: "", schedule: "", contact: "", custom: "" };

  beforeAll(async () => {
    sink = await startSink();
    const [, s, browser] = await Promise.all([
      ensureWebBuilt(),
      startTestServer(
        { kind: "sqlite" },
        {
          secretKey: SECRET_KEY,
          allowInsecureExportTargets: true,
          beforeListen: async (slice) =>
            void (await loadDemo(slice, { contacts: 2000, events: 20_000, log: () => {} })),
        },
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
    const ok = <R extends { status: number; text: string }>(r: R): R => {
      if (r.status >= 300) throw new Error(r.text);
      return r;
    };
    const segments = (await s.call("GET", "/v1/segments")).body.data as { id: string; name: string }[];
    const byName = (n: string) => segments.find((x) => x.name === n)!.id;
    ids.custom = byName("Engaged buyers in France");
    ids.webhook = ok(
      await s.call("POST", "/v1/webhooks", {
        url: `${sink.url}/hooks`,
        events: ["segment.entered", "segment.exited"],
        segment_id: ids.custom,
      }),
    ).body.id;
    ok(await s.call("POST", `/v1/webhooks/${ids.webhook}/test`));
    ids.receiver = ok(
      await s.call("POST", "/v1/receivers", {
        provider: "mailgun",
        config: { signing_key: "mg-abc-123456" },
      }),
    ).body.id;
    ids.destination = ok(
      await s.call("POST", "/v1/destinations", {
        name: "CRM sync",
        kind: "http",
        segment_id: ids.custom,
        config: { add_url: `${sink.url}/add`, remove_url: `${sink.url}/remove` },
        paused: true,
      }),
    ).body.id;
    ids.run = ok(await s.call("POST", `/v1/destinations/${ids.destination}/dry-run`)).body.run_id;
    ids.schedule = ok(
      await s.call("POST", "/v1/export-schedules", {
        name: "Nightly buyers",
        segment_id: ids.custom,
        format: "csv",
        cron: "0 3 * * *",
        target: { kind: "http", url: `${sink.url}/exports/{segment_id}.csv` },
      }),
    ).body.id;
    ids.contact = (await s.call("GET", `/v1/segments/${ids.custom}/contacts?limit=1`)).body.data[0].id;

    // AxeBuilder needs a page of a context of its own (it opens another page in it).
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(15_000);
    if (SHOTS) mkdirSync(DOCS, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await env?.stop();
    await sink?.close();
  });

  async function check(stop: Stop): Promise<string[]> {
    if (stop.path) await page.goto(env.s.url + stop.path);
    try {
      await stop.ready(page);
      await stop.act?.(page);
    } catch (e) {
      await page.screenshot({ path: `/tmp/a11y-failed-${stop.name}.png` }).catch(() => {});
      throw new Error(`${stop.name}: ${(e as Error).message}\npage errors: ${pageErrors.join("\n")}`);
    }
    // Transitions (tabs, fades) settle before the colours are read.
    await page.waitForTimeout(300);
    const found = await violations(page, stop.name);
    if (SHOTS) await page.screenshot({ path: `${DOCS}ui-${stop.name}.png` });
    return found;
  }

  it("the sign-in page has no serious or critical violation", async () => {
    const found = await check({
      name: "sign-in",
      path: "/sign-in",
      ready: (p) => p.getByLabel("API key").waitFor(),
    });
    await page.getByLabel("API key").fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("workspace-name").getByText("Default").waitFor();
    expect(found, found.join("\n")).toEqual([]);
  });

  it("no page has a serious or critical violation", async () => {
    const tab = (name: string) => async (p: Page) => {
      await p.getByRole("tab", { name, exact: true }).click();
      await p.getByRole("tabpanel").waitFor();
    };
    const heading = (name: string | RegExp) => (p: Page) =>
      p
        .getByRole("heading", { name, exact: typeof name === "string" })
        .first()
        .waitFor();
    const seg = `/segments/${ids.custom}`;
    const segReady = (p: Page) => p.getByRole("tab", { name: "Members" }).waitFor();
    const stops: Stop[] = [
      {
        name: "segments",
        path: "/segments",
        ready: (p) => p.locator('tr[data-segment="all"]').waitFor(),
      },
      {
        name: "segment",
        path: seg,
        ready: (p) => p.getByRole("tabpanel").locator("tbody tr").first().waitFor(),
      },
      {
        name: "segment-analytics",
        path: seg,
        ready: segReady,
        act: async (p) => {
          await p.getByRole("tab", { name: "Analytics", exact: true }).click();
          // The charts, or the panel's error: either is checked.
          await p
            .getByText(/Could not load analytics|Share of all contacts|could not be shown/)
            .first()
            .waitFor();
        },
      },
      { name: "segment-export", path: seg, ready: segReady, act: tab("Export") },
      { name: "segment-uses", path: seg, ready: segReady, act: tab("Uses") },
      { name: "segment-changes", path: seg, ready: segReady, act: tab("Changes") },
      { name: "segment-history", path: seg, ready: segReady, act: tab("History") },
      { name: "segment-actions", path: seg, ready: segReady, act: tab("Bulk actions") },
      { name: "segment-overrides", path: seg, ready: segReady, act: tab("Overrides") },
      { name: "segment-rule", path: seg, ready: segReady, act: tab("Rule") },
      {
        name: "segment-static",
        path: "/segments",
        ready: (p) => p.locator('tr[data-segment="all"]').waitFor(),
        act: async (p) => {
          await p.getByRole("link", { name: "VIP list" }).click();
          await tab("Add / remove contacts")(p);
        },
      },
      {
        name: "editor",
        path: `${seg}/edit`,
        ready: (p) => p.getByTestId("preview-count").waitFor(),
      },
      {
        name: "editor-new",
        path: "/segments/new",
        ready: (p) => p.getByLabel("Name").waitFor(),
      },
      {
        name: "contacts",
        path: "/contacts",
        ready: (p) => p.locator("tbody tr").first().waitFor(),
      },
      {
        name: "contact",
        path: `/contacts/${ids.contact}`,
        ready: heading("Profile"),
        act: async (p) => {
          await p.getByLabel("Why is this contact in or out of…").first().click();
          await p.getByRole("option", { name: "Engaged buyers in France", exact: true }).click();
          await p.getByTestId("explain").waitFor();
        },
      },
      { name: "import", path: "/import", ready: heading("Import contacts") },
      {
        name: "fields",
        path: "/fields",
        ready: (p) => p.getByText("plan", { exact: true }).first().waitFor(),
      },
      { name: "webhook-list", path: "/webhooks", ready: (p) => p.locator("tbody tr").first().waitFor() },
      {
        name: "webhooks",
        path: `/webhooks/${ids.webhook}`,
        ready: (p) => p.getByTestId("deliveries-table").locator("tbody tr").first().waitFor(),
      },
      { name: "sources", path: "/sources", ready: (p) => p.locator("tbody tr").first().waitFor() },
      {
        name: "sources-sdk",
        path: "/sources?tab=segment",
        ready: (p) => p.getByRole("tabpanel").waitFor(),
      },
      {
        name: "sources-receivers",
        path: "/sources?tab=receivers",
        ready: (p) => p.getByTestId("receivers-table").locator("tbody tr").first().waitFor(),
      },
      {
        name: "receiver",
        path: `/sources/receivers/${ids.receiver}`,
        ready: (p) => p.getByTestId("stat-accepted").waitFor(),
      },
      {
        name: "destination-list",
        path: "/destinations",
        ready: (p) => p.locator("tbody tr").first().waitFor(),
      },
      {
        name: "destinations",
        path: `/destinations/${ids.destination}`,
        ready: (p) => p.getByTestId("runs-table").locator("tbody tr").first().waitFor(),
      },
      {
        name: "destination-run",
        path: `/destinations/${ids.destination}/runs/${ids.run}`,
        ready: (p) => p.getByTestId("run-stat-failed").waitFor(),
      },
      {
        name: "schedules",
        path: "/schedules",
        ready: (p) => p.getByTestId("schedules-table").locator("tbody tr").first().waitFor(),
      },
      {
        name: "schedule",
        path: `/schedules/${ids.schedule}`,
        ready: heading("Nightly buyers"),
      },
    ];
    const found: string[] = [];
    for (const stop of stops) found.push(...(await check(stop)));
    expect(found, found.join("\n")).toEqual([]);
  }, 600_000);

  it("creates a segment with the keyboard alone", async () => {
    await page.goto(`${env.s.url}/segments`);
    await page.locator('tr[data-segment="all"]').waitFor();
    /** What has the focus: its accessible label (or text), and the rule node it is in. */
    const focused = () =>
      page
        .locator(":focus")
        .evaluate(
          (el) => {
            const labelled = el.getAttribute("aria-labelledby");
            const label =
              el.getAttribute("aria-label") ??
              (labelled ? el.ownerDocument.getElementById(labelled)?.textContent : null) ??
              ("labels" in el
                ? (el.labels as { textContent: string | null }[] | null)?.[0]?.textContent
                : null) ??
              el.textContent ??
              "";
            return { label: label.trim(), path: el.closest("[data-path]")?.getAttribute("data-path") ?? "" };
          },
          undefined,
          { timeout: 2000 },
        )
        .catch(() => ({ label: "", path: "" }));
    /** Presses `key` until the focused element matches, failing after `max` presses. */
    async function moveTo(
      key: string,
      test: (f: { label: string; path: string }) => boolean,
      what: string,
      max = 80,
    ): Promise<void> {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press(key);
        if (test(await focused())) return;
      }
      throw new Error(`${what}: not reached with ${key} (focus on ${JSON.stringify(await focused())})`);
    }

    await moveTo("Tab", (f) => f.label.includes("Create segment"), "Create segment");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/segments\/new$/);
    await page.getByTestId("preview-count").waitFor();
    await moveTo("Tab", (f) => f.label.startsWith("Name"), "Name");
    await page.keyboard.type("Keyboard French");
    // The rule starts as a group of one condition; a field condition is added to it.
    await moveTo("Tab", (f) => f.label === "Add condition", "Add condition");
    await page.keyboard.press("Enter");
    await moveTo("ArrowDown", (f) => f.label === "Field condition", "Field condition", 10);
    await page.keyboard.press("Enter");
    // On a loaded machine the new condition can render after the next keys: tabbing starts
    // once it is there.
    await page.locator('[data-path="rule.conditions[1]"]').first().waitFor();
    const added = (f: { label: string; path: string }) => f.path === "rule.conditions[1]";
    await moveTo("Tab", (f) => added(f) && f.label === "Field", "the new condition's field", 80);
    // The search box holds the current field's name: replaced, not appended to. A search
    // equal to the picked option's label lists every option, so part of the name is typed.
    await page.keyboard.press("ControlOrMeta+a");
    await page.keyboard.type("Countr");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    await moveTo("Tab", (f) => added(f) && f.label === "Value", "the new condition's value", 5);
    await page.keyboard.type("FR");
    await page.keyboard.press("Enter");
    await moveTo("Tab", (f) => f.label === "Save segment", "Save segment", 80).catch(async () => {
      // Save sits before the form: Shift+Tab goes back to it.
      await moveTo("Shift+Tab", (f) => f.label === "Save segment", "Save segment", 120);
    });
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/segments\/seg_/);
    const id = new URL(page.url()).pathname.split("/")[2]!;
    const saved = (await env.s.call("GET", `/v1/segments/${id}`)).body;
    expect(saved.name).toBe("Keyboard French");
    expect(saved.rule).toEqual({
      type: "and",
      conditions: [
        { type: "field", field: "status", op: "eq", value: "subscribed" },
        { type: "field", field: "country", op: "eq", value: "FR" },
      ],
    });
  });
});
