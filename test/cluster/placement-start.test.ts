/**
 * A node starting while its NATS cluster recovers from lost servers: JetStream answers
 * nothing until a quorum is back, and the node's start waits for it rather than failing
 * (a supervisor restarting a node right after a nats-server died met exactly this).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Placement } from "../../src/cluster/placement.ts";
import { type NatsCluster, startNatsCluster } from "../support/nats.ts";
import { eventually } from "../support/server.ts";

const LEASE_MS = 1_000;
const WORKSPACES = ["w_a", "w_b", "w_c"];

let nats: NatsCluster;
let placement: Placement | null = null;

describe("a node starting while JetStream has no quorum", () => {
  beforeAll(async () => {
    nats = await startNatsCluster({ size: 3 });
  }, 60_000);

  afterAll(async () => {
    await placement?.stop().catch(() => undefined);
    await nats?.stop();
  });

  it("waits for the quorum to come back, then takes its leases", async () => {
    placement = await Placement.connect({ servers: nats.urls, nodeId: "a", leaseMs: LEASE_MS, replicas: 3 });
    placement.url = "http://a.invalid";
    // Two of three servers gone: the lease bucket (3 replicas) has no quorum.
    await nats.kill(1);
    await nats.kill(2);

    const logged: string[] = [];
    const acquired: string[] = [];
    const started = placement.start({
      workspaces: async () => WORKSPACES,
      epochFloor: async () => 0,
      acquired: async (ws) => {
        acquired.push(ws);
      },
      lost: () => {},
      log: (line) => logged.push(line),
    });
    let outcome: "pending" | "started" | Error = "pending";
    started.then(
      () => {
        outcome = "started";
      },
      (e: unknown) => {
        outcome = e as Error;
      },
    );
    // Longer than the JetStream requests' timeout (a quarter lease, at least 500 ms) several times over.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(outcome).toBe("pending");
    expect(logged.some((l) => l.includes("retrying"))).toBe(true);

    await nats.restart(1);
    await nats.restart(2);
    await started;
    await eventually(() => WORKSPACES.every((ws) => placement?.owns(ws)), 20_000, "a holds every workspace");
    expect(new Set(acquired)).toEqual(new Set(WORKSPACES));
  }, 90_000);
});
