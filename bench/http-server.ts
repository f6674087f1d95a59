/**
 * A Slice server in a child process (bench/load-server.ts over a SQLite file), and a
 * plain HTTP client for it, for the scripts that measure the service over real HTTP
 * (bench/load-http.ts, the `ingest` section). The server gets its own event loop, as in
 * production; the client is node:http with keep-alive rather than fetch, because the
 * generator shares the cores with the server and undici's per-request cost would be
 * counted against the server.
 */
import { fork } from "node:child_process";
import http from "node:http";
import { join } from "node:path";

/** The server's CPU time between `mark` and `stop`, ms. */
export interface ServerCpu {
  /** The main thread's busy time (event loop utilization). */
  main_ms: number;
  /** Every thread's (user + system). */
  process_ms: number;
  /** The main thread's event loop delay (how long it was held at a time), sampled every 10 ms. */
  loop_delay_p99_ms: number;
  loop_delay_max_ms: number;
}

export interface ServerHandle {
  url: string;
  /** Starts the CPU count `stop` reports. */
  mark(): void;
  /** Stops the server; its CPU time since `mark` (or since it listened). */
  stop(): Promise<ServerCpu | null>;
}

/** Starts a server over the SQLite file `path`, `key` being its admin API key. */
export function startServerProcess(path: string, key: string, workers = 1): Promise<ServerHandle> {
  const child = fork(join(import.meta.dirname, "load-server.ts"), [path, key, String(workers)], {
    execArgv: [
      "--max-old-space-size=8192",
      "--import",
      "tsx",
      ...(process.env.SLICE_LOAD_PROFILE
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.SLICE_LOAD_PROFILE}`]
        : []),
    ],
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
    let cpu: ServerCpu | null = null;
    child.on("message", (m: { url?: string; cpu?: ServerCpu }) => {
      if (m.cpu) cpu = m.cpu;
      if (m.url) {
        resolve({
          url: m.url,
          mark: () => child.send({ mark: true }),
          stop: () =>
            new Promise<ServerCpu | null>((done) => {
              child.removeAllListeners("exit");
              child.once("exit", () => done(cpu));
              child.kill("SIGTERM");
            }),
        });
      }
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** POSTs a JSON body with the given Authorization header value; the answer as text. */
export function post(
  url: string,
  authorization: string,
  body: string,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          authorization,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
