/** The server side of bench/load-http.ts: a Slice server over the given SQLite file. */
import { startServer } from "../src/http/start.ts";

const [path, key] = process.argv.slice(2);
const server = await startServer({
  port: 0,
  sqlitePath: path!,
  apiKey: key!,
  log: () => {},
  rateLimit: { max: 1e9, windowMs: 60_000 },
});
process.send?.({ url: server.url });
process.on("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
