#!/usr/bin/env node
// The `slice` command from a checkout (`npx slice …`, `npm start`): there is no build
// step, so the TypeScript entry is loaded through tsx's ESM loader hooks.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
