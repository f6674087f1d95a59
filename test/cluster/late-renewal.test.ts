/**
 * A lease renewal that lands in the bucket but whose answer comes after the request's
 * timeout (a loaded machine, a slow network): the holder must notice that the entry it
 * cannot update is its own newer write, and serve again once NATS answers in time. A
 * holder that kept the old revision could never renew again and stayed paused for good,
 * answering 503 for its workspaces while nobody else could take them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Placement } from "../../src/cluster/placement.ts";
import { type NatsCluster, startNatsCluster } from "../support/nats.ts";
import { eventually } from "../support/server.ts";
import { startTcpLag, type TcpLag } from "../support/tcp-lag.ts";

const LEASE_MS = 2_000;

let nats: NatsCluster;
let lag: TcpLag;
let placement: Placement | null = null;

describe("a lease renewal answered after its timeout", () => {
  beforeAll(async () => {
    nats = await startNatsCluster({ size: 1 });
    const target = new URL(nats.urls[0]!);
    lag = await startTcpLag(target.hostname, Number(target.port));
  }, 60_000);

  afterAll(async () => {
    await placement?.stop().catch(() => undefined);
    await lag?.close();
    await nats?.stop();
  });

  it("is recognised as the holder's own write, and the holder serves again", async () => {
    placement = await Placement.connect({
      servers: [`nats://${lag.address}`],
      nodeId: "a",
      leaseMs: LEASE_MS,
      replicas: 1,
    });
    placement.url = "http://a.invalid";
    const logged: string[] = [];
    const lost: string[] = [];
    await placement.start({
      workspaces: async () => ["w1"],
      epochFloor: async () => 0,
      acquired: async () => {},
      lost: (ws, why) => lost.push(`${ws}: ${why}`),
      log: (line) => logged.push(line),
    });
    const p = placement;
    await eventually(() => p.owns("w1"), 10_000, "a holds w1");

    // Answers come later than the requests' timeout (a quarter lease, 500 ms), long
    // enough for the lease to stop being served: renewals land, their answers do not.
    lag.setLag(900);
    await eventually(() => logged.some((l) => l.includes("w1 paused")), 10_000, "w1 paused");
    expect(p.owns("w1")).toBe(false);

    lag.setLag(0);
    await eventually(() => p.owns("w1"), 10_000, "a serves w1 again");
    expect(lost).toEqual([]);
    expect(p.heldWorkspaces()).toEqual(["w1"]);
  }, 60_000);
});
