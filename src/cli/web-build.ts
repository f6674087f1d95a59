/**
 * From a checkout, `slice serve` builds the web app (web/ → web/dist) when it has not
 * been built yet, so that `npm ci && npm start` serves the UI. A compiled build
 * (`npm run build`) never builds at start: it has web/dist already, and a production
 * tree has no Vite. Without Vite the server serves the API alone and says how to build
 * the UI.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DIST_INDEX = fileURLToPath(new URL("../../web/dist/index.html", import.meta.url));
const COMPILED = import.meta.url.endsWith(".js");

export function ensureWebBuilt(log: (line: string) => void): void {
  if (existsSync(DIST_INDEX)) return;
  if (COMPILED) {
    log("Slice: the web app is not built (web/dist): serving the API alone (npm run build)");
    return;
  }
  if (!existsSync(fileURLToPath(new URL("../../web/index.html", import.meta.url)))) return;
  let vite: string;
  try {
    vite = join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin", "vite.js");
  } catch {
    log("Slice: the web app is not built and Vite is not installed (npm ci, then npm run build:web)");
    return;
  }
  log("Slice: building the web app (web/dist)…");
  const r = spawnSync(
    process.execPath,
    [vite, "build", "--config", "web/vite.config.ts", "--logLevel", "warn"],
    {
      cwd: ROOT,
      stdio: "inherit",
    },
  );
  if (r.status !== 0) log("Slice: building the web app failed; serving the API alone");
}
