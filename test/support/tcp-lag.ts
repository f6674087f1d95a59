/**
 * A TCP forwarder for tests that can make the way back slow: what the target sends is
 * held `lag` milliseconds before the client gets it, in order, while what the client
 * sends goes through at once. A request then reaches the server and is carried out, but
 * its answer comes after the client's timeout: the "did it land?" case of a slow network.
 */

import type { AddressInfo } from "node:net";
import { createServer, type Socket, connect as tcpConnect } from "node:net";

export interface TcpLag {
  /** `host:port` to connect to instead of the target. */
  address: string;
  /** Holds every chunk from the target this long from now on (0: none). */
  setLag(ms: number): void;
  close(): Promise<void>;
}

export async function startTcpLag(targetHost: string, targetPort: number): Promise<TcpLag> {
  let lag = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect({ host: targetHost, port: targetPort });
    sockets.add(client).add(upstream);
    // Chunks leave in arrival order: a chunk never overtakes one held longer.
    let last = 0;
    upstream.on("data", (chunk: Buffer) => {
      const at = Math.max(Date.now() + lag, last);
      last = at;
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, at - Date.now());
    });
    client.pipe(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    setLag: (ms) => {
      lag = ms;
    },
    close: () =>
      new Promise((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
