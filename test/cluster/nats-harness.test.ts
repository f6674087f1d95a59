/**
 * The NATS harness and the client libraries (@nats-io/* 3.4) against Debian's nats-server
 * (2.9.10): a replicated KV bucket, compare-and-set, and reads and writes surviving the
 * loss of the server the client is on, which is also the bucket's stream leader.
 */
import { jetstream } from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection, TimeoutError } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsCluster, startNatsCluster } from "../support/nats.ts";

/** Retries `f` until it succeeds or `ms` pass: a server loss costs a reconnect and an election. */
async function within<T>(ms: number, f: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * `key`'s entry once a replica that has revision `rev` answers: a KV read is a direct
 * get, which any replica may answer, one that lags with an older value.
 */
function readFrom(kv: KV, key: string, rev: number, ms = 5_000): Promise<KvEntry> {
  return within(ms, async () => {
    const e = await kv.get(key);
    if (!e || e.revision < rev) throw new Error(`read revision ${e?.revision}, wanted ${rev}`);
    return e;
  });
}

/** The bucket's stream leader, once one is elected and a replica answers. */
function streamLeader(kv: KV): Promise<string> {
  return within(10_000, async () => {
    const leader = (await kv.status()).streamInfo.cluster?.leader;
    if (!leader) throw new Error("no stream leader yet");
    return leader;
  });
}

/**
 * Asks the stream's leader to step down. On a busy machine the answer can come after the
 * request's timeout though the leader did step down, or not at all: the caller reads the
 * leader again rather than trusting the reply.
 */
async function stepDown(nc: NatsConnection, stream: string): Promise<void> {
  try {
    await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5_000 });
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
  }
}

describe("NATS JetStream test cluster", () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let kv: KV;

  beforeAll(async () => {
    cluster = await startNatsCluster({ size: 3 });
    // In url order, so the client sits on server 0, the one killed below. A short reconnect
    // wait and request timeout: nats.js drops whatever it buffered while disconnected, so a
    // write made then is lost and only reported as a timeout (5 s by default).
    nc = await connect({ servers: cluster.urls, noRandomize: true, reconnectTimeWait: 250 });
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  }, 60_000);

  it("serves a replicated KV bucket with compare-and-set", async () => {
    expect(cluster.urls).toHaveLength(3);
    kv = await new Kvm(jetstream(nc, { timeout: 2_000 })).create("t", { replicas: 3 });
    expect((await kv.status()).replicas).toBe(3);

    const rev1 = await kv.put("k", "v1");
    expect((await readFrom(kv, "k", rev1)).string()).toBe("v1");

    const rev2 = await kv.update("k", "v2", rev1);
    expect(rev2).toBeGreaterThan(rev1);
    expect((await readFrom(kv, "k", rev2)).string()).toBe("v2");

    // rev1 is stale now: the write must be refused and the value left alone.
    await expect(kv.update("k", "v3", rev1)).rejects.toThrow(/wrong last sequence/);
    const after = await readFrom(kv, "k", rev2);
    expect([after.string(), after.revision]).toEqual(["v2", rev2]);
  }, 60_000);

  it("keeps serving after the client's server, also the stream leader, is killed", async () => {
    // Move the bucket's stream leader to n0 so that the kill also costs an election.
    for (let i = 0; i < 20 && (await streamLeader(kv)) !== "n0"; i++) await stepDown(nc, "KV_t");
    expect(await streamLeader(kv)).toBe("n0");
    expect(nc.getServer()).toBe(cluster.urls[0]?.replace("nats://", ""));

    // nats-server's followers wait 4-9 s (raft.go's election timeout) for a lost leader
    // before they campaign; until then a write gets a timeout or "no responders", which
    // nats.js reports as "jetstream is not enabled".
    await cluster.kill(0);
    const started = Date.now();
    const rev = await within(15_000, () => kv.put("k", "after-kill"));
    // A KV read is a direct get, which any replica may answer: one that has not applied
    // the put yet answers the value before it (placement.ts reads leases knowing this).
    const entry = await readFrom(kv, "k", rev, 15_000);
    const took = Date.now() - started;
    expect(entry?.string()).toBe("after-kill");
    expect(entry?.revision).toBe(rev);
    expect(await streamLeader(kv)).not.toBe("n0");
    console.log(`put+get after killing server 0 took ${took} ms (now on ${nc.getServer()})`);
    expect(took).toBeLessThan(15_000);
  }, 60_000);

  it("restarts a killed server, which catches up", async () => {
    // Killed by the test before unless that one failed first: this one stands on its own,
    // with a write made while server 0 is down.
    await cluster.kill(0);
    await within(15_000, () => kv.put("k", "while-down"));
    await cluster.restart(0);
    const nc0 = await connect({ servers: cluster.urls[0] });
    try {
      const kv0 = await new Kvm(nc0).open("t");
      const entry = await within(15_000, async () => {
        const e = await kv0.get("k");
        if (e?.string() !== "while-down") throw new Error(`not caught up: ${e?.string()}`);
        return e;
      });
      expect(entry.string()).toBe("while-down");
    } finally {
      await nc0.close();
    }
  }, 60_000);
});
