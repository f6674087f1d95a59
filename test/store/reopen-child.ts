/**
 * Child process of the close test (conformance.ts): opens the store and closes it at
 * once (its background threads may still be starting), opens it again, reads and closes
 * it, then prints `done` and returns without calling `process.exit`, so the process
 * ends only if closing left nothing running.
 */
import { openStore } from "../../src/store/index.ts";

const [optsJson, ws] = process.argv.slice(2);
const opts = JSON.parse(optsJson);
const first = await openStore(opts);
await first.close();
const second = await openStore(opts);
await second.workspace(ws).events.count();
await second.close();
process.stdout.write("done\n");
