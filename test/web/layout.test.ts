/**
 * The visual system holds: no page is wider than the window at 1280 px or at 390 px
 * (a phone), the navigation folds behind a menu button on the narrow window, links are
 * the app's and not the browser's default blue underline, and empty lists say what to
 * do next.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY } from "../support/server.ts";
import { startWebEnv, type WebEnv } from "./support.ts";

describe("web app: layout, links and empty states", () => {
  let env: WebEnv;
  let segmentId = "";
  let contactId = "";
  beforeAll(async () => {
    env = await startWebEnv(40);
    const seg = await env.s.call("POST", "/v1/segments", {
      name: "A segment whose name is long enough to need wrapping on a phone screen",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });
    segmentId = seg.body.id;
    const contact = (await env.s.call("GET", "/v1/contacts?limit=1")).body.data[0];
    contactId = contact.id;
    // JSON with no place to break a line at, as wide as two windows, in the contact's Events table.
    const e = await env.s.call("POST", "/v1/events", [
      {
        type: "page_viewed",
        contact: { email: contact.email },
        properties: { token: "0123456789abcdef".repeat(160), tags: ["x", "y"] },
      },
    ]);
    if (e.status !== 200 || e.body.errors.length) throw new Error(e.text);
  }, 60_000);
  afterAll(async () => {
    await env?.stop();
  });

  async function open(width: number, height: number): Promise<Page> {
    const context = await env.browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${env.s.url}/sign-in`);
    await page.getByLabel("API key").fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("workspace-name").getByText("Default").waitFor();
    return page;
  }

  /** How far the page is wider than the window, and the widest element sticking out. */
  const overflow = (page: Page) =>
    page.locator("html").evaluate((html) => {
      const doc = html;
      let culprit = "";
      let right = doc.clientWidth;
      for (const el of html.ownerDocument.querySelectorAll("body *")) {
        const r = el.getBoundingClientRect();
        // Inside a box that scrolls or clips, it does not widen the page.
        let clipped = false;
        for (let p = el.parentElement; p && p !== doc; p = p.parentElement) {
          if (html.ownerDocument.defaultView!.getComputedStyle(p).overflowX !== "visible") clipped = true;
        }
        if (!clipped && r.width > 0 && r.right > right + 1) {
          right = r.right;
          culprit = `${el.tagName.toLowerCase()}.${String(el.className).split(" ").slice(0, 2).join(".")} "${(el.textContent ?? "").slice(0, 60)}"`;
        }
      }
      return { extra: doc.scrollWidth - doc.clientWidth, culprit };
    });

  /** Whether a navigation link is on screen (a folded navbar is slid out to the left). */
  const onScreen = async (page: Page, name: string) => {
    const box = await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name })
      .boundingBox();
    return box !== null && box.x + box.width > 0;
  };

  const pages = () => [
    "/segments",
    `/segments/${segmentId}`,
    "/segments/new",
    "/contacts",
    `/contacts/${contactId}`,
    "/import",
    "/fields",
    "/sources",
    "/sources?tab=receivers",
    "/destinations",
    "/schedules",
    "/webhooks",
  ];

  for (const [width, height] of [
    [1280, 800],
    [390, 844],
  ] as const) {
    it(`no page is wider than a ${width} px window`, async () => {
      const page = await open(width, height);
      const wide: string[] = [];
      for (const path of pages()) {
        await page.goto(env.s.url + path);
        await page.getByRole("heading", { level: 2 }).first().waitFor();
        // Lists and charts fill in after the heading.
        await page.waitForTimeout(500);
        const o = await overflow(page);
        if (o.extra > 0) wide.push(`${path}: ${o.extra} px wider (${o.culprit})`);
      }
      await page.context().close();
      expect(wide, wide.join("\n")).toEqual([]);
    }, 120_000);
  }

  it("keeps each condition's kind badge whole and its buttons inside its box at 1280 px", async () => {
    const page = await open(1280, 800);
    const rule = {
      type: "and",
      conditions: [
        { type: "field", field: "country", op: "eq", value: "FR" },
        { type: "event", event: "email_opened", window: { in_last: "30d" } },
        { type: "sequence", steps: [{ event: "email_sent" }, { event: "email_opened" }], within: "7d" },
      ],
    };
    await page.goto(`${env.s.url}/segments/new?rule=${encodeURIComponent(JSON.stringify(rule))}`);
    const leaves = page.locator('[data-path^="rule.conditions["]');
    await leaves.nth(2).waitFor();
    await page.waitForTimeout(300);
    const found = await leaves.evaluateAll((cards) =>
      cards.map((card) => {
        const box = card.getBoundingClientRect();
        const badge = card.querySelector(".mantine-Badge-label")!;
        const buttons = [...card.querySelectorAll('button[aria-label="Remove condition"]')].map((b) =>
          b.getBoundingClientRect(),
        );
        return {
          path: card.getAttribute("data-path"),
          badge: badge.textContent,
          cut: badge.scrollWidth > badge.clientWidth,
          buttons: buttons.length,
          outside: buttons.filter(
            (b) => b.left < box.left || b.right > box.right || b.top < box.top || b.bottom > box.bottom,
          ).length,
        };
      }),
    );
    expect(found.map((f) => f.badge)).toEqual(["Field", "Event", "Sequence"]);
    for (const f of found) {
      expect(f.cut, `${f.path}: badge "${f.badge}" is cut`).toBe(false);
      expect(f.buttons, `${f.path}: Remove condition button`).toBe(1);
      expect(f.outside, `${f.path}: Remove condition outside the box`).toBe(0);
    }
    await page.context().close();
  });

  it("folds the navigation behind a menu button on a narrow window, and opens it", async () => {
    const page = await open(390, 844);
    const nav = page.getByRole("navigation", { name: "Main" });
    const menu = page.getByRole("button", { name: "Open navigation" });
    expect(await menu.isVisible()).toBe(true);
    expect(await onScreen(page, "Contacts")).toBe(false);
    await menu.focus();
    await page.keyboard.press("Enter");
    // Opened right after sign-in, it stays open: the sign-in's redirect to /segments may
    // still be committing, and must not fold it.
    await page.getByRole("button", { name: "Close navigation" }).waitFor();
    await page.waitForTimeout(400);
    expect(await page.getByRole("button", { name: "Close navigation" }).isVisible()).toBe(true);
    await nav.getByRole("link", { name: "Contacts" }).click();
    await page.waitForURL(/\/contacts$/);
    // A new page folds it again.
    await page.getByRole("button", { name: "Open navigation" }).waitFor();
    await page.waitForTimeout(400);
    expect(await onScreen(page, "Contacts")).toBe(false);
    // So does choosing the page it is on.
    await page.getByRole("button", { name: "Open navigation" }).click();
    await nav.getByRole("link", { name: "Contacts" }).click();
    await page.getByRole("button", { name: "Open navigation" }).waitFor();
    await page.waitForTimeout(400);
    expect(await onScreen(page, "Contacts")).toBe(false);
    await page.context().close();

    const wide = await open(1280, 800);
    expect(await wide.getByRole("button", { name: "Open navigation" }).isVisible()).toBe(false);
    expect(
      await wide
        .getByRole("navigation", { name: "Main" })
        .getByRole("link", { name: "Contacts" })
        .isVisible(),
    ).toBe(true);
    await wide.context().close();
  });

  it("styles links as the app's: no browser-default blue, underlined on hover only", async () => {
    const page = await open(1280, 800);
    await page.goto(`${env.s.url}/segments/${segmentId}`);
    await page.getByRole("tabpanel").locator("tbody tr a").first().waitFor();
    const styles = await page.locator("main a").evaluateAll((links) =>
      links.map((a) => {
        const st = a.ownerDocument.defaultView!.getComputedStyle(a);
        return { text: a.textContent, color: st.color, line: st.textDecorationLine };
      }),
    );
    expect(styles.length).toBeGreaterThan(2);
    for (const s of styles) {
      expect(s.color, s.text ?? "").not.toBe("rgb(0, 0, 238)");
      expect(s.line, s.text ?? "").toBe("none");
    }
    await page.context().close();
  });

  it("says what to do next on an empty list", async () => {
    const page = await open(1280, 800);
    for (const [path, title, next] of [
      ["/webhooks", "No webhooks yet.", /form below/],
      ["/destinations", "No destinations yet.", /form below/],
      ["/schedules", "No scheduled exports yet.", /form below/],
      ["/sources?tab=receivers", "No receivers yet.", /form below/],
    ] as const) {
      await page.goto(env.s.url + path);
      const empty = page.getByTestId("empty-state");
      await empty.getByText(title).waitFor();
      expect(await empty.textContent(), path).toMatch(next);
    }
    await page.goto(`${env.s.url}/segments`);
    await page.getByLabel("Search segments").fill("no such segment");
    const empty = page.getByTestId("empty-state");
    await empty.getByText("No segment matches").waitFor();
    await empty.getByRole("button", { name: "Clear the search" }).click();
    await page.locator('tr[data-segment="all"]').waitFor();
    await page.context().close();
  });

  // After the empty lists are checked: it adds a schedule.
  it("shows a schedule's row whole at 1280 px: cron on one line, state and buttons uncut", async () => {
    const r = await env.s.call("POST", "/v1/export-schedules", {
      name: "Nightly French contacts",
      segment_id: segmentId,
      format: "csv",
      cron: "30 3 * * 1-5",
      target: { kind: "http", url: "https://example.com/exports/{segment_id}.csv" },
    });
    if (r.status !== 201) throw new Error(r.text);
    const page = await open(1280, 800);
    await page.goto(`${env.s.url}/schedules`);
    const row = page.getByTestId("schedules-table").locator("tbody tr").first();
    await row.getByRole("button", { name: "Delete Nightly French contacts" }).waitFor();
    await page.waitForTimeout(300);
    const cut = await row.evaluate((tr) => {
      const found: string[] = [];
      const cron = [...tr.querySelectorAll("td")].find((td) => td.textContent?.startsWith("30 3"))!;
      const line = cron.querySelector("p")!;
      const lineHeight = Number.parseFloat(tr.ownerDocument.defaultView!.getComputedStyle(line).lineHeight);
      if (line.getBoundingClientRect().height > 1.5 * lineHeight)
        found.push(`cron wraps: ${line.textContent}`);
      for (const el of tr.querySelectorAll(".mantine-Badge-label, .mantine-Button-label")) {
        if (el.scrollWidth > el.clientWidth) found.push(`cut: ${el.textContent}`);
      }
      for (const b of tr.querySelectorAll("button")) {
        const box = b.getBoundingClientRect();
        const cell = b.closest("td")!.getBoundingClientRect();
        if (box.right > cell.right + 1) found.push(`outside its cell: ${b.textContent}`);
      }
      return found;
    });
    expect(cut, cut.join("\n")).toEqual([]);
    await page.context().close();
  });
});
