// The entry of Slice's worker threads when running from the TypeScript sources (tsx,
// vitest; a compiled build starts its workers on their .js files, see worker-thread.ts).
// A worker does not inherit the loader hooks that let the main thread import TypeScript
// under every runner (vitest, for one, transforms modules itself), so the worker
// registers tsx, as bin/slice.js does from a checkout, and then imports the TypeScript
// module named in `workerData.entry`.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
