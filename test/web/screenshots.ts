/**
 * The README's screenshots of the web app, taken from a server with the demo data:
 * `node --import tsx test/web/screenshots.ts` writes docs/ui-*.png.
 */
import { fileURLToPath } from "node:url";
import { loadDemo } from "../../src/cli/demo.ts";
import { ADMIN_KEY, startTestServer } from "../support/server.ts";
import { ensureWebBuilt, launchBrowser } from "./support.ts";

const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));

const [, s, browser] = await Promise.all([
  ensureWebBuilt(),
  startTestServer(
    { kind: "sqlite" },
    {
      beforeListen: async (slice) =>
        void (await loadDemo(slice, { contacts: 5000, events: 50_000, log: () => {} })),
    },
  ),
  launchBrowser(),
]);
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => process.stderr.write(`page error: ${e.message}\n`));
  await page.goto(`${s.url}/sign-in`);
  await page.getByLabel("API key").fill(ADMIN_KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("workspace-name").getByText("Default").waitFor();
  await page.locator('tr[data-segment="all"]').waitFor();
  await page.waitForTimeout(800);
  await page.screenshot({ path: `${DOCS}ui-segments.png` });

  const rule = {
    type: "and",
    conditions: [
      { type: "field", field: "status", op: "eq", value: "subscribed" },
      { type: "field", field: "country", op: "in", value: ["FR", "DE", "ES"] },
      {
        type: "event",
        event: "order_placed",
        window: { in_last: "180d" },
        where: [{ property: "currency", op: "eq", value: "EUR" }],
        measure: { fn: "sum", property: "amount" },
        op: "gt",
        value: 100,
      },
      {
        type: "not",
        condition: {
          type: "sequence",
          steps: [{ event: "cart_added" }, { event: "order_placed" }],
          within: "1d",
        },
      },
    ],
  };
  const seg = (await s.call("POST", "/v1/segments", { name: "EU buyers over 100 EUR", rule })).body;
  await page.goto(`${s.url}/segments/${seg.id}/edit`);
  await page.getByTestId("preview-count").waitFor();
  await page.locator('[data-path="rule.conditions[1]"]').getByLabel("Value", { exact: true }).click();
  await page.keyboard.type("GB");
  await page.keyboard.press("Enter");
  await page.getByTestId("edit-diff").waitFor();
  await page.waitForTimeout(800);
  await page.screenshot({ path: `${DOCS}ui-editor.png`, fullPage: true });

  await page.goto(`${s.url}/segments/customers`);
  await page.getByRole("tab", { name: "Analytics" }).click();
  await page.getByTestId("breakdown").locator("svg").first().waitFor();
  await page.waitForTimeout(1200);
  await page.screenshot({ path: `${DOCS}ui-analytics.png`, fullPage: true });

  const member =
    (await s.call("GET", "/v1/segments/inactive/contacts?limit=1")).body.data[0] ??
    (await s.call("GET", "/v1/contacts?limit=1")).body.data[0];
  await page.goto(`${s.url}/contacts/${member.id}`);
  await page.getByLabel("Why is this contact in or out of…").first().click();
  await page.getByRole("option", { name: "Inactive", exact: true }).click();
  await page.getByTestId("explain").waitFor();
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${DOCS}ui-explain.png`, fullPage: true });
  process.stdout.write(`screenshots written to ${DOCS}\n`);
} finally {
  await browser.close();
  await s.stop();
}
