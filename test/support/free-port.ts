/**
 * Ports of 127.0.0.1 for servers a test starts as child processes.
 *
 * Port 0 would hand out ports from the kernel's ephemeral range, which is also where the
 * source ports of outgoing connections come from: a port free a moment ago can be taken
 * by any connection before the child binds it, or while a killed server is down before
 * its restart on the same port. So ports are drawn below that range, and one call hands
 * out distinct ports by holding each open until all are found.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

const FLOOR = 10_000;

/** The first port of the kernel's ephemeral range (Linux), or the IANA default. */
function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
    );
    if (Number.isInteger(first) && first > FLOOR + 1_000) return first;
  } catch {
    // Not Linux: fall through.
  }
  return 49_152;
}

function hold(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(null));
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

function close(srv: Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/** `count` distinct ports, each free at the moment of return. */
export async function freePorts(count: number): Promise<number[]> {
  const top = ephemeralStart();
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count; tries++) {
      if (tries > 1_000) throw new Error(`no free port of 127.0.0.1 in ${FLOOR}–${top - 1}`);
      const port = FLOOR + Math.floor(Math.random() * (top - FLOOR));
      if (ports.includes(port)) continue;
      const srv = await hold(port);
      if (!srv) continue;
      held.push(srv);
      ports.push(port);
    }
  } finally {
    await Promise.all(held.map(close));
  }
  return ports;
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error("no free port");
  return port;
}
