/**
 * The server side of bench/load-http.ts: a Slice server over the given SQLite file.
 * With SLICE_LOAD_PROFILE=<dir>, every thread is CPU-profiled from the start into that
 * directory (bench/http-server.ts), and the main thread's load phase alone, after
 * start-up, into `main-load.cpuprofile` there.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { startServer } from "../src/http/start.ts";

const [path, key, workers] = process.argv.slice(2);
const server = await startServer({
  port: 0,
  ...(workers !== undefined ? { workers: Number(workers) } : {}),
  sqlitePath: path!,
  apiKey: key!,
  log: () => {},
  rateLimit: { max: 1e9, windowMs: 60_000 },
  // The sync section's receivers listen on 127.0.0.1.
  allowPrivateAddresses: true,
  // Destinations need it to seal their credentials (the sync section).
  ...(process.env.SLICE_SECRET_KEY ? { secretKey: process.env.SLICE_SECRET_KEY } : {}),
});
const profile = process.env.SLICE_LOAD_PROFILE;
const session = profile ? new Session() : null;
if (session) {
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
}
process.send?.({ url: server.url });
// The server's CPU from the load's start ("mark") to the stop: the main thread's busy time
// (event loop utilization) and the whole process's (every thread: the store's writer too);
// and how long the main thread held the event loop at a time (its delay, sampled every 10 ms).
let since = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage() };
const delay = monitorEventLoopDelay({ resolution: 10 });
process.on("message", (m: { mark?: boolean }) => {
  if (!m.mark) return;
  since = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage() };
  delay.reset();
  delay.enable();
});
process.on("SIGTERM", () => {
  void (async () => {
    const elu = performance.eventLoopUtilization(since.elu);
    const cpu = process.cpuUsage(since.cpu);
    delay.disable();
    process.send?.({
      cpu: {
        main_ms: elu.active,
        process_ms: (cpu.user + cpu.system) / 1000,
        loop_delay_p99_ms: delay.percentile(99) / 1e6,
        loop_delay_max_ms: delay.max / 1e6,
      },
    });
    if (session && profile) {
      const { profile: p } = await session.post("Profiler.stop");
      mkdirSync(profile, { recursive: true });
      writeFileSync(join(profile, "main-load.cpuprofile"), JSON.stringify(p));
    }
    await server.close();
    process.exit(0);
  })();
});
