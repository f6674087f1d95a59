import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePorts } from "../support/free-port.ts";

const ephemeralStart = Number(
  readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
);

describe("ports for test servers", () => {
  it("are distinct, bindable, and outside the range outgoing connections draw from", async () => {
    const ports = await freePorts(60);
    expect(new Set(ports).size).toBe(60);
    for (const p of ports) expect(p).toBeLessThan(ephemeralStart);
    for (const p of ports) {
      await new Promise<void>((resolve, reject) => {
        const srv = createServer();
        srv.once("error", reject);
        srv.listen(p, "127.0.0.1", () => srv.close(() => resolve()));
      });
    }
  });
});
