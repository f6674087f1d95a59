/**
 * Starting one of Slice's worker threads on a module of src/, named by the URL of
 * its TypeScript source.
 *
 * Compiled (dist/, `npm run build`), the worker runs the `.js` file next to this module
 * directly: no loader, no dev dependency. From sources (tsx, vitest), it starts through
 * worker-boot.mjs, which registers tsx in the worker first, since a worker does not
 * inherit the main thread's loader hooks.
 */
import { Worker } from "node:worker_threads";

const COMPILED = import.meta.url.endsWith(".js");

export function startWorker(entry: URL, data: Record<string, unknown>): Worker {
  if (COMPILED) {
    // Callers name the `.ts` source (the same code runs from sources); tsc rewrites
    // import specifiers, not URLs.
    const js = new URL(entry.href.replace(/\.ts$/, ".js"));
    return new Worker(js, { workerData: { ...data, entry: js.href } });
  }
  return new Worker(new URL("./worker-boot.mjs", import.meta.url), {
    workerData: { ...data, entry: entry.href },
  });
}
