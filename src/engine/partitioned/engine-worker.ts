/**
 * An engine worker: a thread that holds the engine of the partitions assigned to it and
 * answers its coordinator's requests (protocol.ts) one at a time, in order. It is
 * today's engine, unchanged, over the contacts of its partitions.
 */
import { parentPort, workerData } from "node:worker_threads";
import { FieldValueError } from "../contact-values.ts";
import { Engine, type StoredContact } from "../engine.ts";
import { loadEncoded } from "./event-batch.ts";
import type { WorkerData, WorkerError, WorkerReply, WorkerRequest } from "./protocol.ts";

const data = workerData as WorkerData;
let now = Date.now();
const engine = new Engine({ ...data.engine, clock: { now: () => now } });

function answer(r: WorkerRequest): WorkerReply {
  switch (r.op) {
    case "contacts":
      engine.loadContacts(typeof r.rows === "string" ? (JSON.parse(r.rows) as StoredContact[]) : r.rows);
      return { id: r.id, ok: true };
    case "events":
      loadEncoded(engine, r.batch);
      return { id: r.id, ok: true };
    case "finish":
      engine.finishLoad();
      return { id: r.id, ok: true };
    case "segment":
      engine.defineSegment(r.def);
      return { id: r.id, ok: true };
    case "evaluate": {
      const m = engine.evaluate(r.rule, r.at);
      return r.ids
        ? { id: r.id, ok: true, count: m.count, ids: m.ids() }
        : { id: r.id, ok: true, count: m.count };
    }
    case "size":
      return { id: r.id, ok: true, count: engine.contactCount };
  }
}

function describe(e: unknown): WorkerError {
  // The message without the `path: ` the error's constructor puts before it.
  if (e instanceof FieldValueError) {
    return { name: e.name, message: e.message.slice(e.path.length + 2), path: e.path };
  }
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}

parentPort?.on("message", (r: WorkerRequest) => {
  now = r.now;
  let reply: WorkerReply;
  try {
    reply = answer(r);
  } catch (e) {
    reply = { id: r.id, ok: false, error: describe(e) };
  }
  parentPort?.postMessage(reply);
});
