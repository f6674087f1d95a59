/**
 * Lease writes that land in the bucket but whose answer comes after the request's
 * timeout (a loaded machine, a slow network).
 *
 * - A renewal: the holder must notice that the entry it cannot update is its own newer
 *   write, and serve again once NATS answers in time. A holder that kept the old revision
 *   could never renew again and stayed paused for good, answering 503 for its workspaces
 *   while nobody else could take them.
 * - A first write (`create`): the entry names the node, so no other node takes it, and
 *   the node must see it as its own rather than wait for it to expire.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Placement } from "../../src/cluster/placement.ts";
import { type NatsCluster, startNatsCluster } from "../support/nats.ts";
import { eventually } from "../support/server.ts";
import { startTcpLag, type TcpLag } from "../support/tcp-lag.ts";

const LEASE_MS = 2_000;

let nats: NatsCluster;
let lag: TcpLag;
const placements: Placement[] = [];

beforeAll(async () => {
  nats = await startNatsCluster({ size: 1 });
  const target = new URL(nats.urls[0]!);
  lag = await startTcpLag(target.hostname, Number(target.port));
}, 60_000);

afterAll(async () => {
  lag?.setLag(0);
  for (const p of placements) await p.stop().catch(() => undefined);
  await lag?.close();
  await nats?.stop();
});

describe("a lease renewal answered after its timeout", () => {
  it("is recognised as the holder's own write, and the holder serves again", async () => {
    const p = await Placement.connect({
      servers: [`nats://${lag.address}`],
      nodeId: "a",
      leaseMs: LEASE_MS,
      replicas: 1,
    });
    placements.push(p);
    p.url = "http://a.invalid";
    const logged: string[] = [];
    const lost: string[] = [];
    await p.start({
      workspaces: async () => ["w1"],
      epochFloor: async () => 0,
      acquired: async () => {},
      lost: (ws, why) => lost.push(`${ws}: ${why}`),
      log: (line) => logged.push(line),
    });
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

describe("a lease's first write answered after its timeout", () => {
  it("is taken as the node's own at once, not after it expires", async () => {
    // Six seconds: requests time out after 1.5 s; the answer comes 2 s late.
    const leaseMs = 6_000;
    const b = await Placement.connect({
      servers: [`nats://${lag.address}`],
      nodeId: "b",
      leaseMs,
      replicas: 1,
      bucket: "late_create",
    });
    placements.push(b);
    b.url = "http://b.invalid";
    const epochs: number[] = [];
    let lagged = false;
    await b.start({
      workspaces: async () => ["w2"],
      // Asked between reading the entry and writing it: the write's answer comes late.
      epochFloor: async () => {
        if (!lagged) {
          lagged = true;
          lag.setLag(2_000);
          setTimeout(() => lag.setLag(0), 2_200);
        }
        return 0;
      },
      acquired: async (_ws, epoch) => void epochs.push(epoch),
      lost: () => {},
      log: () => {},
    });
    await eventually(() => b.owns("w2"), 20_000, "b serves w2");
    expect(lagged).toBe(true);
    // Epoch 2 would be the same node taking its own lease again once it had expired.
    expect(epochs).toEqual([1]);
  }, 60_000);
});
