/**
 * Starting one of Slice's worker threads on a TypeScript module (through
 * worker-boot.mjs, which registers tsx in the worker).
 */
import { Worker } from "node:worker_threads";

export function startWorker(entry: URL, data: Record<string, unknown>): Worker {
  return new Worker(new URL("./worker-boot.mjs", import.meta.url), {
    workerData: { ...data, entry: entry.href },
  });
}
