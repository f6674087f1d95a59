/**
 * The container of an engine snapshot: a JSON header (what the arrays mean) and the
 * arrays themselves as raw bytes, each read back into a typed array with the capacity
 * it had when written, so that a restored engine adopts them as they are and grows them
 * as it would have. Hand-written rather than a serialisation library: the
 * payload is a few hundred typed arrays of up to hundreds of megabytes each, which any
 * general format (MessagePack, protobuf, Arrow IPC) would copy once more on each side.
 *
 * Layout: `SLICESNP`, then five little-endian words (format version, header bytes,
 * CRC-32 of the header, CRC-32 of the body, body bytes as a float64), the header as
 * UTF-8 JSON, then every array's bytes in order. A snapshot is written to a temporary
 * file, synced and renamed over the old one, so a crash leaves the old one or the new
 * one, never half of either; a torn or altered file fails its checksums.
 */
import { closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { endianness } from "node:os";
import { Worker } from "node:worker_threads";
import { crc32 } from "node:zlib";

const MAGIC = Buffer.from("SLICESNP", "latin1");
const PREFIX_BYTES = MAGIC.length + 4 * 4 + 8;
/** Bumped whenever the layout of the container, or what its checksums cover, changes. */
const CONTAINER_VERSION = 2;

export type SnapshotArray = Float64Array | Int32Array | Uint32Array | Int8Array | Uint8Array;

const KINDS = {
  f64: Float64Array,
  i32: Int32Array,
  u32: Uint32Array,
  i8: Int8Array,
  u8: Uint8Array,
} as const;
type Kind = keyof typeof KINDS;

function kindOf(a: SnapshotArray): Kind {
  if (a instanceof Float64Array) return "f64";
  if (a instanceof Int32Array) return "i32";
  if (a instanceof Uint32Array) return "u32";
  if (a instanceof Int8Array) return "i8";
  return "u8";
}

interface SectionInfo {
  kind: Kind;
  length: number;
  capacity: number;
}

/** A snapshot that cannot be used: missing, from other code, or damaged. The message says which. */
/**
 * A list of strings as a header holds it: joined by NUL into one JSON string where none
 * holds a NUL (a million ids then parse in ~0.1 s, where as many JSON strings take
 * ~0.5 s and as much again in collections), else as the list itself.
 */
export type PackedStrings = { n: number; joined: string } | string[];

export function packStrings(list: readonly string[]): PackedStrings {
  for (const v of list) if (v.includes("\0")) return [...list];
  return { n: list.length, joined: list.join("\0") };
}

export function unpackStrings(p: PackedStrings): string[] {
  if (Array.isArray(p)) return p;
  if (p === null || typeof p !== "object" || typeof p.joined !== "string" || typeof p.n !== "number") {
    throw new SnapshotUnusable("a list of strings is malformed");
  }
  const list = p.n === 0 ? [] : p.joined.split("\0");
  if (list.length !== p.n) throw new SnapshotUnusable("a list of strings is malformed");
  return list;
}

export class SnapshotUnusable extends Error {
  override name = "SnapshotUnusable";
}

/** Collects the arrays of a snapshot; `add` answers the reference the header keeps. */
export class SnapshotWriter {
  private readonly arrays: SnapshotArray[] = [];
  private readonly infos: SectionInfo[] = [];

  /** The first `length` items of `a` (default: all); read back into an array of `capacity` items (default: `a.length`). */
  add(a: SnapshotArray, length = a.length, capacity = a.length): number {
    this.arrays.push(length === a.length ? a : a.subarray(0, length));
    this.infos.push({ kind: kindOf(a), length, capacity: Math.max(capacity, length) });
    return this.arrays.length - 1;
  }

  /** Writes the snapshot to `path` atomically (a temporary file renamed over it once synced). */
  writeTo(path: string, header: unknown): number {
    const pending = this.writeUnsynced(path, header);
    pending.commitSync();
    return pending.bytes;
  }

  /**
   * Writes the snapshot to a temporary file beside `path`, not synced yet: the caller
   * that must not hold its thread for the disk (the engine waits while its arrays are
   * written, not while they reach the disk) commits it later with `commit`.
   */
  writeUnsynced(path: string, header: unknown): PendingSnapshot {
    let bodyCrc = 0;
    let bodyBytes = 0;
    for (const a of this.arrays) {
      // zlib answers 0 for an empty array of no memory, whatever the running value: the
      // sum would then cover only the arrays after the last empty one.
      if (a.byteLength > 0) bodyCrc = crc32(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), bodyCrc);
      bodyBytes += a.byteLength;
    }
    const head = Buffer.from(
      JSON.stringify({ endianness: endianness(), sections: this.infos, header }),
      "utf8",
    );
    const prefix = Buffer.alloc(PREFIX_BYTES);
    MAGIC.copy(prefix, 0);
    let at = MAGIC.length;
    at = prefix.writeUInt32LE(CONTAINER_VERSION, at);
    at = prefix.writeUInt32LE(head.length, at);
    at = prefix.writeUInt32LE(crc32(head), at);
    at = prefix.writeUInt32LE(bodyCrc, at);
    prefix.writeDoubleLE(bodyBytes, at);
    const tmp = `${path}.tmp-${process.pid}-${++temporaries}`;
    const fd = openSync(tmp, "w");
    try {
      writeAll(fd, prefix);
      writeAll(fd, head);
      for (const a of this.arrays) writeAll(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(fd);
    return new PendingSnapshot(tmp, path, PREFIX_BYTES + head.length + bodyBytes);
  }
}

let temporaries = 0;

/** A snapshot written to its temporary file: `commit` syncs it and renames it over the old one. */
export class PendingSnapshot {
  constructor(
    private readonly tmp: string,
    readonly path: string,
    readonly bytes: number,
  ) {}

  /** Syncs the file (in the thread pool) and renames it into place; on failure the old file stays. */
  async commit(): Promise<void> {
    try {
      const fh = await open(this.tmp, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(this.tmp, this.path);
    } catch (e) {
      await rm(this.tmp, { force: true });
      throw e;
    }
  }

  commitSync(): void {
    try {
      const fd = openSync(this.tmp, "r+");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(this.tmp, this.path);
    } catch (e) {
      rmSync(this.tmp, { force: true });
      throw e;
    }
  }

  /** Removes the temporary file (a snapshot given up). */
  discard(): void {
    rmSync(this.tmp, { force: true });
  }
}

/** Large arrays in pieces: one `write` of more than 2 GB is refused. */
function writeAll(fd: number, bytes: Uint8Array): void {
  const step = 1 << 30;
  for (let off = 0; off < bytes.length; ) {
    off += writeSync(fd, bytes, off, Math.min(step, bytes.length - off));
  }
}

async function readAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  const step = 1 << 30;
  for (let off = 0; off < bytes.length; ) {
    const { bytesRead } = await fh.read(bytes, off, Math.min(step, bytes.length - off), position + off);
    if (bytesRead === 0) throw new SnapshotUnusable("the file ends before its last array (truncated)");
    off += bytesRead;
  }
}

/** A snapshot read whole and checked: its header and its arrays, by reference. */
export class SnapshotReader {
  private constructor(
    readonly header: unknown,
    private readonly arrays: SnapshotArray[],
  ) {}

  /**
   * Reads and checks `path`; throws SnapshotUnusable (missing, truncated, corrupt, other
   * format). The arrays are read in the thread pool, all at once; meanwhile
   * `whileReading` gets the header, for work that needs no array (a restore's ids and
   * dictionaries), and the body's checksum is checked once both are done.
   */
  static async open(path: string, whileReading?: (header: unknown) => void): Promise<SnapshotReader> {
    let fh: FileHandle;
    try {
      fh = await open(path, "r");
    } catch (e) {
      throw new SnapshotUnusable(`cannot be opened: ${(e as Error).message}`);
    }
    try {
      const prefix = Buffer.alloc(PREFIX_BYTES);
      const { bytesRead } = await fh.read(prefix, 0, PREFIX_BYTES, 0);
      if (bytesRead < PREFIX_BYTES || !prefix.subarray(0, 8).equals(MAGIC)) {
        throw new SnapshotUnusable("not a snapshot file");
      }
      const at = MAGIC.length;
      const version = prefix.readUInt32LE(at);
      if (version !== CONTAINER_VERSION)
        throw new SnapshotUnusable(`container version ${version}, expected ${CONTAINER_VERSION}`);
      const headLength = prefix.readUInt32LE(at + 4);
      const headCrc = prefix.readUInt32LE(at + 8);
      const bodyCrc = prefix.readUInt32LE(at + 12);
      const bodyBytes = prefix.readDoubleLE(at + 16);
      const head = Buffer.alloc(headLength);
      await readAll(fh, head, PREFIX_BYTES);
      if (crc32(head) !== headCrc) throw new SnapshotUnusable("the header fails its checksum");
      const parsed = JSON.parse(head.toString("utf8")) as {
        endianness: string;
        sections: SectionInfo[];
        header: unknown;
      };
      if (parsed.endianness !== endianness())
        throw new SnapshotUnusable("written on a machine of other byte order");
      let position = PREFIX_BYTES + headLength;
      // One buffer for every array: a few hundred allocations of up to hundreds of
      // megabytes each cost 0.7–1.6 s (each makes V8 weigh a collection), one costs
      // nothing. An array the engine outgrows is replaced by one of its own, so the
      // buffer lives on until the last restored array is replaced.
      let total = 0;
      const offsets: number[] = [];
      for (const s of parsed.sections) {
        const Ctor = KINDS[s.kind];
        if (Ctor === undefined) throw new SnapshotUnusable(`unknown array kind ${s.kind}`);
        total = Math.ceil(total / 8) * 8;
        offsets.push(total);
        total += s.capacity * Ctor.BYTES_PER_ELEMENT;
      }
      const buffer = new ArrayBuffer(total);
      const arrays: SnapshotArray[] = [];
      const reads: Promise<void>[] = [];
      parsed.sections.forEach((s, k) => {
        const Ctor = KINDS[s.kind];
        const a = new Ctor(buffer, offsets[k]!, s.capacity);
        const bytes = new Uint8Array(buffer, offsets[k]!, s.length * Ctor.BYTES_PER_ELEMENT);
        reads.push(readAll(fh, bytes, position));
        position += bytes.length;
        arrays.push(a);
      });
      if (position - PREFIX_BYTES - headLength !== bodyBytes) {
        await Promise.allSettled(reads);
        throw new SnapshotUnusable("the body's length does not match its header");
      }
      // The body's checksum, on another core meanwhile, from the same open file.
      const check = bodyChecksum(fh.fd, PREFIX_BYTES + headLength, bodyBytes);
      let refused: { error: unknown } | null = null;
      try {
        whileReading?.(parsed.header);
      } catch (error) {
        refused = { error };
      }
      // Never leave reads, or the checksum's, running into arrays (or a handle) the caller gave up.
      const settled = await Promise.allSettled(reads);
      const crc = await check;
      if (refused !== null) throw refused.error;
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      if (crc !== bodyCrc) throw new SnapshotUnusable("the body fails its checksum");
      return new SnapshotReader(parsed.header, arrays);
    } finally {
      await fh.close();
    }
  }

  /** The array written as reference `ref`, checked to be of `Ctor`'s kind. */
  array<T extends SnapshotArray>(ref: number, Ctor: { new (n: number): T; BYTES_PER_ELEMENT: number }): T {
    const a = this.arrays[ref];
    if (!(a instanceof Ctor))
      throw new SnapshotUnusable(`array ${ref} is not of the kind its reader expects`);
    return a;
  }
}

/**
 * CRC-32 of `length` bytes of open file `fd` from `start`, computed by a worker thread
 * reading the file itself (0.7 s at 500 MB that the restore's own thread is spared),
 * or here when no worker starts. A read error or a short file answers a value no
 * checksum matches but the right one only by chance: the caller compares it.
 */
function bodyChecksum(fd: number, start: number, length: number): Promise<number> {
  const here = () => {
    const chunk = Buffer.allocUnsafe(8 << 20);
    let crc = 0;
    for (let off = 0; off < length; ) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, length - off), start + off);
      if (n === 0) return -1;
      crc = crc32(chunk.subarray(0, n), crc);
      off += n;
    }
    return crc;
  };
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      // Plain JavaScript, no loader hooks of the parent's (`execArgv: []`): it starts in ~20 ms.
      worker = new Worker(CHECKSUM_WORKER, { eval: true, execArgv: [], workerData: { fd, start, length } });
    } catch {
      resolve(here());
      return;
    }
    worker.once("message", (crc: number) => resolve(crc));
    worker.once("error", () => resolve(here()));
    worker.once("exit", () => resolve(-1));
  });
}

const CHECKSUM_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { readSync } = require("node:fs");
const { crc32 } = require("node:zlib");
const { fd, start, length } = workerData;
const chunk = Buffer.allocUnsafe(8 << 20);
let crc = 0;
for (let off = 0; off < length; ) {
  const n = readSync(fd, chunk, 0, Math.min(chunk.length, length - off), start + off);
  if (n === 0) { crc = -1; break; }
  crc = crc32(chunk.subarray(0, n), crc);
  off += n;
}
parentPort.postMessage(crc);
`;
