/**
 * A slow forwarding proxy for tests: every request waits `delayMs`, then goes to the
 * target unchanged and its answer comes back unchanged. Counts requests as they
 * arrive, so a test can act (kill a server) while a provider call is in flight.
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
  close(): Promise<void>;
}

export async function startDelayProxy(target: string, delayMs: number): Promise<DelayProxy> {
  const t = new URL(target);
  const proxy: DelayProxy = {
    url: "",
    received: 0,
    via: (u) => {
      const parsed = new URL(u);
      return `${proxy.url}${parsed.pathname}${parsed.search}`;
    },
    close: () => new Promise((res) => server.close(() => res())),
  };
  const server = createServer((req, res) => {
    proxy.received++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      setTimeout(() => {
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
      }, delayMs);
    });
  });
  // The client side may be killed mid-request: that must not crash the test process.
  server.on("clientError", (_e, socket) => socket.destroy());
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
