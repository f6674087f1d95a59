/**
 * Browser tests of the web app: a real Slice server (test/support/server.ts) with
 * generated data, the web app built once (web/dist, rebuilt when a source file is newer),
 * and Debian's Chromium driven by playwright-core.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { ADMIN_KEY, startTestServer, type TestServer } from "../support/server.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WEB = join(ROOT, "web");
const INDEX = join(WEB, "dist", "index.html");

function newestSource(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "dist" || e.name === "node_modules") continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds web/dist when missing or older than a source; parallel test files wait for one build. */
export async function ensureWebBuilt(): Promise<void> {
  const fresh = () => existsSync(INDEX) && statSync(INDEX).mtimeMs >= newestSource(WEB);
  if (fresh()) return;
  const lock = join(ROOT, "node_modules", ".slice-web-build.lock");
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (fresh()) return;
      // A lock older than two minutes was left by a killed run.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 120_000) rmdirSync(lock);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (fresh()) return;
    const vite = join(ROOT, "node_modules", "vite", "bin", "vite.js");
    const r = spawnSync(
      process.execPath,
      [vite, "build", "--config", "web/vite.config.ts", "--logLevel", "error"],
      {
        cwd: ROOT,
        encoding: "utf8",
      },
    );
    if (r.status !== 0) throw new Error(`web build failed:\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}

export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      return execFileSync("which", [name], { encoding: "utf8" }).trim();
    } catch {
      // try the next name
    }
  }
  throw new Error("Chromium not found: install it (apt-get install chromium) or set CHROMIUM_PATH");
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      // A headless page counts as a background one: its timers (the editor's debounce)
      // would be throttled as no foreground tab's are.
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
    ],
  });
}

export interface WebEnv {
  s: TestServer;
  browser: Browser;
  stop(): Promise<void>;
}

export const COUNTRIES = ["FR", "US", "DE", "GB", "ES"];

/** A server with `n` generated contacts (a custom field, tags, events) and a browser. */
export async function startWebEnv(n = 300): Promise<WebEnv> {
  const [, s, browser] = await Promise.all([
    ensureWebBuilt(),
    startTestServer({ kind: "sqlite" }),
    launchBrowser(),
  ]);
  const fields = await s.call("POST", "/v1/fields", { key: "score", type: "number", label: "Score" });
  if (fields.status !== 201) throw new Error(fields.text);
  const contacts = Array.from({ length: n }, (_, i) => ({
    email: `user${i}@example.com`,
    first_name: `First${i}`,
    last_name: `Last${i}`,
    country: COUNTRIES[i % COUNTRIES.length],
    status: i % 10 === 0 ? "unsubscribed" : "subscribed",
    tags: i % 3 === 0 ? ["vip"] : i % 3 === 1 ? ["press"] : [],
    fields: { score: i % 100 },
  }));
  const b = await s.call("POST", "/v1/contacts/batch", contacts);
  if (b.status !== 200 || b.body.errors.length) throw new Error(b.text);
  const now = Date.now();
  const events = [];
  for (let i = 0; i < n; i++) {
    const email = `user${i}@example.com`;
    events.push({
      type: "email_sent",
      contact: { email },
      timestamp: new Date(now - 5 * 86400_000).toISOString(),
    });
    if (i % 2 === 0)
      events.push({
        type: "email_opened",
        contact: { email },
        timestamp: new Date(now - (i % 40) * 86400_000).toISOString(),
      });
    if (i % 4 === 0)
      events.push({
        type: "order_placed",
        contact: { email },
        timestamp: new Date(now - (i % 60) * 86400_000).toISOString(),
        properties: { amount: (i % 7) * 50, currency: i % 8 === 0 ? "EUR" : "USD" },
      });
  }
  const e = await s.call("POST", "/v1/events", events);
  if (e.status !== 200 || e.body.errors.length) throw new Error(e.text);
  return {
    s,
    browser,
    async stop() {
      await browser.close();
      await s.stop();
    },
  };
}

/** A new page signed in with the admin key. */
export async function signedIn(env: WebEnv, path = "/segments"): Promise<Page> {
  const page = await env.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  // A bound on waiting, not on speed: in CI the browser shares two cores with the
  // cluster tests' processes, and an import polled every 300 ms once took over 10 s.
  page.setDefaultTimeout(30_000);
  await page.goto(`${env.s.url}/sign-in`);
  await page.getByLabel("API key").fill(ADMIN_KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("workspace-name").getByText("Default").waitFor();
  if (path !== "/segments") await page.goto(env.s.url + path);
  return page;
}
