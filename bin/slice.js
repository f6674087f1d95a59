#!/usr/bin/env node
// The `slice` command. A built tree (`npm run build`, or the output of
// scripts/release.sh) runs the compiled JavaScript in dist/, with runtime dependencies
// only. A checkout that is not built — or whose sources changed since it was — runs
// the TypeScript sources through tsx's ESM loader hooks (a dev dependency).
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const compiled = new URL("../dist/cli/main.js", import.meta.url);
const sources = new URL("../src/cli/main.ts", import.meta.url);

/** Newest modification time of the files under `dir`, in ms. */
function newest(dir) {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    max = Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return max;
}

/** Whether dist/ is older than src/ (a checkout built once, then edited or updated). */
function stale() {
  return newest(fileURLToPath(new URL("../src", import.meta.url))) > statSync(compiled).mtimeMs;
}

async function loadTsx() {
  try {
    return await import("tsx/esm/api");
  } catch {
    return null;
  }
}

const built = existsSync(compiled);
const outdated = built && existsSync(sources) && stale();
const tsx = !built || outdated ? await loadTsx() : null;
if (tsx) {
  tsx.register();
  await import(sources.href);
} else if (built) {
  if (outdated) console.error("slice: src/ changed since the last build; running dist/ (npm run build)");
  await import(compiled.href);
} else {
  console.error("error: Slice is not built and tsx is not installed: run `npm ci`, or `npm run build`");
  process.exit(1);
}
