#!/usr/bin/env bash
# Builds Slice and assembles a production tree: the steps of the Dockerfile's build
# stage, and what CI runs in a clean copy of the repository.
#
#   scripts/release.sh [OUT]     (default OUT: ./release)
#
# SLICE_RELEASE_NODE_MODULES_FROM=DIR: copy DIR/node_modules, installed by npm ci from the
# same package-lock.json, instead of running npm ci (CI, which has just run it).
#
# 1. npm ci (dev dependencies included: tsc, Vite), npm run build (dist/, web/dist);
# 2. OUT gets package.json, package-lock.json, bin/, dist/, web/dist/ and node_modules/
#    pruned to the runtime dependencies (npm prune --omit=dev; better-sqlite3's native
#    addon, compiled by npm ci, is kept); no tsx, Vite or DuckDB remain, which is checked;
# 3. the package as `npm pack` makes it is installed in a scratch project, where a plain
#    .mjs imports slice/engine and slice/client and a TypeScript file type-checks against
#    them (skip with SLICE_RELEASE_SKIP_PACK=1).
#
# OUT runs with `node OUT/bin/slice.js serve` (or `npm start` in OUT): see docs/operations.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$root/release}")"
cd "$root"
started=$SECONDS
step() { echo "release: $* ($((SECONDS - started)) s)"; }

case "$out/" in
"$root/") echo "release: OUT must not be the repository itself" >&2; exit 2 ;;
esac

if [ -n "${SLICE_RELEASE_NODE_MODULES_FROM:-}" ]; then
  # CI has just run npm ci on the same lockfile in its own checkout: its node_modules
  # (native addon compiled) is copied rather than installed and compiled a second time.
  from="$(realpath "$SLICE_RELEASE_NODE_MODULES_FROM")"
  if ! cmp -s "$from/package-lock.json" package-lock.json || [ ! -d "$from/node_modules" ]; then
    echo "release: $from has no node_modules installed from this package-lock.json" >&2
    exit 2
  fi
  step "node_modules copied from $from (npm ci there)"
  rm -rf node_modules
  cp -a "$from/node_modules" node_modules
else
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

step "npm run build"
npm run --silent build

step "assembling $out"
rm -rf "$out"
mkdir -p "$out/web"
cp -R package.json package-lock.json bin dist "$out/"
cp -R web/dist "$out/web/dist"
[ -f LICENSE ] && cp LICENSE "$out/"
cp -R node_modules "$out/node_modules"
(cd "$out" && npm prune --omit=dev --no-audit --no-fund --loglevel=error)
# Compiler intermediates of the native addon: only build/Release/*.node is loaded.
rm -rf "$out"/node_modules/better-sqlite3/build/Release/{obj,obj.target,.deps,test_extension.node}
# npm prune leaves the scope folders of removed packages (@duckdb/, @types/, …) empty.
find "$out/node_modules" -mindepth 1 -maxdepth 1 -type d -name '@*' -empty -delete

for dev in tsx vite @duckdb/node-api typescript vitest; do
  if [ -e "$out/node_modules/$dev" ]; then
    echo "release: $out/node_modules/$dev is a dev dependency and must not be in a production tree" >&2
    exit 1
  fi
done
# Readable by any user: the server runs unprivileged.
chmod -R a+rX "$out"

if [ "${SLICE_RELEASE_SKIP_PACK:-}" != "1" ]; then
  step "checking the package (npm pack, installed in a scratch project)"
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  npm pack --silent --pack-destination "$scratch" >/dev/null
  tgz="$(ls "$scratch"/slice-*.tgz)"
  (
    cd "$scratch"
    echo '{ "name": "slice-consumer", "private": true, "type": "module" }' >package.json
    # --ignore-scripts: the engine and the client need no native addon.
    npm install "$tgz" --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error
    cp "$root/scripts/package-check/consumer.mjs" "$root/scripts/package-check/consumer.ts" .
    node consumer.mjs
    node "$root/node_modules/typescript/bin/tsc" --noEmit --strict \
      --module nodenext --moduleResolution nodenext --target es2022 \
      --typeRoots "$root/node_modules/@types" --types node consumer.ts
    echo "release: consumer.ts type-checks against slice/engine and slice/client"
  )
fi

step "done: $out ($(du -sh "$out" | cut -f1))"
