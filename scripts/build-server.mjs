#!/usr/bin/env node
// `npm run build:server`: compiles src/ to dist/ (JavaScript and .d.ts) with
// tsconfig.build.json.
//
// tsc compiles with the repository as its root, so that a source reaching outside src/
// would still build (none does today). The result is then laid out as dist/cli/main.js,
// dist/engine/index.js, …: from dist/<dir>/ the relative paths to package.json and
// web/dist are the ones they have from src/<dir>/. Relative imports that leave src/ are
// re-pointed accordingly.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "src");
const dist = join(root, "dist");
const staging = join(root, "dist.tmp");

rmSync(dist, { recursive: true, force: true });
rmSync(staging, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", staging], {
  cwd: root,
  stdio: "inherit",
});

/** dist/ path of a repository file: src/<p> → dist/<p>, <other>/<p> → dist/<other>/<p>. */
function inDist(file) {
  const rel = relative(root, file);
  return rel.split(sep)[0] === "src" ? join(dist, relative(src, file)) : join(dist, rel);
}

// Move staging/src/** and staging/<other>/** into place, noting each file's origin.
const origins = new Map();
function collect(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p);
    else origins.set(inDist(join(root, relative(staging, p))), join(root, relative(staging, p)));
  }
}
collect(staging);
renameSync(join(staging, "src"), dist);
for (const entry of readdirSync(staging)) {
  if (existsSync(join(dist, entry)))
    throw new Error(`build: src/${entry} and ${entry}/ would both be dist/${entry}`);
  renameSync(join(staging, entry), join(dist, entry));
}
rmSync(staging, { recursive: true, force: true });

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']*)\2/g;
let moved = 0;
for (const [file, origin] of origins) {
  if (!file.endsWith(".js") && !file.endsWith(".d.ts")) continue;
  const text = readFileSync(file, "utf8");
  const next = text.replace(SPECIFIER, (whole, lead, quote, spec) => {
    let out = relative(dirname(file), inDist(resolve(dirname(origin), spec)))
      .split(sep)
      .join("/");
    if (!out.startsWith(".")) out = `./${out}`;
    if (out === spec) return whole;
    moved++;
    return `${lead}${quote}${out}${quote}`;
  });
  if (next !== text) writeFileSync(file, next);
}
console.log(`build: src/ compiled to dist/ (${origins.size} files, ${moved} imports re-pointed)`);
