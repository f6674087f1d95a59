/**
 * Child process of the SIGKILL test (conformance.ts): ingests batches of events through
 * the store, one transaction each, and prints `ack <batch>` only after each commit,
 * until it is killed.
 */
import { openStore } from "../../src/store/index.ts";

const [optsJson, ws, prefix] = process.argv.slice(2);
const store = await openStore(JSON.parse(optsJson));
const size = 500;
for (let b = 0; ; b++) {
  const batch = Array.from({ length: size }, (_, i) => ({
    id: `${prefix}-${b}-${i}`,
    type: "email_sent",
    contact_id: `ct_${i % 50}`,
    timestamp: 1_700_000_000_000 + b * size + i,
    properties: { batch: b },
  }));
  await store.transaction(ws, async (tx) => {
    await tx.workspace(ws).events.insert(batch);
    await tx
      .workspace(ws)
      .changes.append([{ segment_id: "s", contact_id: `ct_${b}`, change: "entered", at: b }]);
  });
  process.stdout.write(`ack ${b}\n`);
}
