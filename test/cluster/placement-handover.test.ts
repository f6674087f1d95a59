/**
 * The placement's side of a hand-over, against a real nats-server, with the service's
 * hooks scripted: a holder that refuses to let go (an import running) keeps serving the
 * workspace and is asked again a lease later; once it lets go, the node that joined takes it with
 * the instant the holder reached.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Placement, preferredNode } from "../../src/cluster/placement.ts";
import type { PlacementHooks } from "../../src/service/slice-options.ts";
import { type NatsCluster, startNatsCluster } from "../support/nats.ts";
import { eventually } from "../support/server.ts";

const LEASE_MS = 1_000;
const WORKSPACES = ["w_a", "w_b", "w_c", "w_d", "w_e", "w_f"];

let nats: NatsCluster;
const placements: Placement[] = [];

async function placement(nodeId: string, hooks: Partial<PlacementHooks>): Promise<Placement> {
  const p = await Placement.connect({ servers: nats.urls, nodeId, leaseMs: LEASE_MS, replicas: 1 });
  p.url = `http://${nodeId}.invalid`;
  placements.push(p);
  await p.start({
    workspaces: async () => WORKSPACES,
    epochFloor: async () => 0,
    acquired: async () => {},
    lost: () => {},
    log: () => {},
    ...hooks,
  });
  return p;
}

describe("a hand-over to a node that joined", () => {
  beforeAll(async () => {
    nats = await startNatsCluster({ size: 1 });
  }, 60_000);

  afterAll(async () => {
    for (const p of placements) await p.stop().catch(() => undefined);
    await nats?.stop();
  });

  it("waits while the holder cannot let go, then carries the holder's instant to the next", async () => {
    const joiner = Array.from({ length: 50 }, (_, i) => `b${i}`).find(
      (b) => WORKSPACES.filter((ws) => preferredNode(["a", b], ws) === b).length === 1,
    )!;
    const moving = WORKSPACES.find((ws) => preferredNode(["a", joiner], ws) === joiner)!;

    let letGo = false;
    const asked: string[] = [];
    const askedAt: number[] = [];
    const lost: string[] = [];
    const a = await placement("a", {
      release: async (ws) => {
        asked.push(ws);
        askedAt.push(Date.now());
        if (!letGo) throw new Error("an import is running");
        return 1_234_567;
      },
      lost: (ws) => lost.push(ws),
    });
    await eventually(() => WORKSPACES.every((ws) => a.owns(ws)), 10_000, "a holds every workspace");

    const taken: { ws: string; advancedTo: number | undefined }[] = [];
    const b = await placement(joiner, {
      acquired: async (ws, _epoch, advancedTo) => {
        taken.push({ ws, advancedTo });
      },
    });
    // Asked once b has been live a lease; refused, so a serves it still and asks again.
    await eventually(() => asked.filter((ws) => ws === moving).length >= 2, 10_000, "asked twice");
    expect(a.owns(moving)).toBe(true);
    expect(b.owns(moving)).toBe(false);
    expect(new Set(asked)).toEqual(new Set([moving]));
    // Not every lease round: a lease after the refusal.
    expect(askedAt[1]! - askedAt[0]!).toBeGreaterThanOrEqual(LEASE_MS);

    letGo = true;
    await eventually(() => b.owns(moving), 10_000, `${joiner} holds ${moving}`);
    expect(a.owns(moving)).toBe(false);
    expect(taken).toEqual([{ ws: moving, advancedTo: 1_234_567 }]);
    // The rest stays where rendezvous wants it, and a hand-over is no loss.
    for (const ws of WORKSPACES.filter((w) => w !== moving)) expect(a.owns(ws)).toBe(true);
    expect(lost).toEqual([]);
  }, 60_000);
});
