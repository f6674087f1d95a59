/**
 * The process the crash test kills: opens the store and the workspace's engine
 * (rebuilding and reconciling, as a restarted server does), then ingests batches of
 * events and prints `ack <batch>` once each batch is committed and applied.
 */
import { LiveWorkspace } from "../../src/service/live-workspace.ts";
import { openStore } from "../../src/store/index.ts";
import { crashBatch } from "./crash-data.ts";

const cfg = JSON.parse(process.argv[2]) as {
  store: { sqlitePath?: string; databaseUrl?: string };
  ws: string;
  from: number;
  batches: number;
};
const store = await openStore(cfg.store);
const live = await LiveWorkspace.open(store, cfg.ws);
process.stdout.write("ready\n");
for (let k = cfg.from; k < cfg.batches; k++) {
  await live.ingestEvents(crashBatch(k, Date.now()));
  process.stdout.write(`ack ${k}\n`);
}
await store.close();
process.stdout.write("done\n");
