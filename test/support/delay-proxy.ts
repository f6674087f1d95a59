/**
 * A slow forwarding proxy for tests: every request waits `delayMs`, then goes to the
 * target unchanged and its answer comes back unchanged. Counts requests as they
 * arrive, so a test can act (kill a server) while a provider call is in flight. With
 * `holdAfter(n)`, requests past the n-th wait without a deadline until `release()`, so
 * "killed with calls in flight" does not depend on how fast the test reacts: a loaded
 * machine could otherwise let the whole sync through before the kill lands.
 */
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";

export interface DelayProxy {
  /** The proxy's base URL: the target's origin replaced, its path kept. */
  url: string;
  /** Rewrites a URL of the target to go through the proxy. */
  via(targetUrl: string): string;
  /** Requests received so far. */
  received: number;
  /** Holds every request after the first `n` (counted from the start) until `release`. */
  holdAfter(n: number): void;
  /** Stops holding; held requests whose client is still connected go on, the rest are dropped. */
  release(): void;
  close(): Promise<void>;
}

export async function startDelayProxy(target: string, delayMs: number): Promise<DelayProxy> {
  const t = new URL(target);
  let holdFrom = Number.POSITIVE_INFINITY;
  const held: (() => void)[] = [];
  const proxy: DelayProxy = {
    url: "",
    received: 0,
    via: (u) => {
      const parsed = new URL(u);
      return `${proxy.url}${parsed.pathname}${parsed.search}`;
    },
    holdAfter: (n) => {
      holdFrom = n;
    },
    release: () => {
      holdFrom = Number.POSITIVE_INFINITY;
      for (const go of held.splice(0)) go();
    },
    close: () => new Promise((res) => server.close(() => res())),
  };
  const server = createServer((req, res) => {
    proxy.received++;
    const hold = proxy.received > holdFrom;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const forward = () => {
        // A held request whose client died meanwhile never reaches the target.
        if (res.destroyed || req.socket.destroyed) return;
        forwardNow();
      };
      const forwardNow = () => {
        const out = httpRequest(
          {
            host: t.hostname,
            port: t.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: t.host },
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        out.on("error", () => {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        });
        out.end(Buffer.concat(chunks));
      };
      setTimeout(() => (hold ? held.push(forward) : forwardNow()), delayMs);
    });
  });
  // The client side may be killed mid-request: that must not crash the test process.
  server.on("clientError", (_e, socket) => socket.destroy());
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
