/**
 * The container of an engine snapshot: a JSON header (what the arrays mean) and the
 * arrays themselves as raw bytes, each read back (by a worker thread) into a typed array
 * of its own with the capacity it had when written, so that a restored engine adopts
 * them as they are and grows them as it would have. Hand-written rather than a
 * serialisation library: the payload is a few hundred typed arrays of up to hundreds of
 * megabytes each, which any general format (MessagePack, protobuf, Arrow IPC) would
 * copy once more on each side.
 *
 * Layout: `SLICESNP`, then five little-endian words (format version, header bytes,
 * CRC-32 of the header, CRC-32 of the body, body bytes as a float64), the header as
 * UTF-8 JSON, then every array's bytes in order. A snapshot is written to a temporary
 * file, synced and renamed over the old one, so a crash leaves the old one or the new
 * one, never half of either; a torn or altered file fails its checksums.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
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

/**
 * A list of strings as a header holds it: joined by NUL into one JSON string where none
 * holds a NUL (a restart at a million contacts took 0.1–0.2 s less than with as many
 * JSON strings), else as the list itself.
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

/** A snapshot that cannot be used: missing, from other code, or damaged. The message says which. */
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
    // Unique across the machines that may share the directory (cluster nodes).
    const tmp = `${path}.tmp-${process.pid}-${++temporaries}-${randomBytes(6).toString("hex")}`;
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
      const start = PREFIX_BYTES + headLength;
      let total = 0;
      for (const s of parsed.sections) {
        const Ctor = KINDS[s.kind];
        if (Ctor === undefined) throw new SnapshotUnusable(`unknown array kind ${s.kind}`);
        total += s.length * Ctor.BYTES_PER_ELEMENT;
      }
      if (total !== bodyBytes) throw new SnapshotUnusable("the body's length does not match its header");
      // The arrays are read and summed by a worker thread while this one restores what
      // needs none of them (whileReading).
      const body = readBody(fh.fd, start, parsed.sections);
      let refused: { error: unknown } | null = null;
      try {
        whileReading?.(parsed.header);
      } catch (error) {
        refused = { error };
      }
      // Never leave the reads running into a handle the caller gave up.
      const read = await body.then(
        (r) => ({ ok: true as const, ...r }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      if (refused !== null) throw refused.error;
      if (!read.ok) throw read.error;
      if (read.crc !== bodyCrc) throw new SnapshotUnusable("the body fails its checksum");
      const arrays = read.arrays;
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
 * The arrays of a file's body, each in a buffer of its own with its capacity, and the
 * CRC-32 of the body (empty arrays skipped), read from open file `fd` from `start`.
 * A worker thread allocates, reads and sums them, then hands the buffers over: one
 * by one on this thread, the few hundred allocations cost 1.5 s at a million contacts
 * (each prompts V8 to weigh a collection of a heap the restore is filling), and the
 * sum 0.7 s. A worker that cannot start fails the read (a start then loads from the
 * store).
 */
function readBody(
  fd: number,
  start: number,
  sections: readonly SectionInfo[],
): Promise<{ arrays: SnapshotArray[]; crc: number }> {
  return new Promise((resolve, reject) => {
    // Plain JavaScript, no loader hooks of the parent's (`execArgv: []`): it starts in ~20 ms.
    const worker = new Worker(READ_BODY, { eval: true, execArgv: [], workerData: { fd, start, sections } });
    worker.once("message", (m: { buffers: ArrayBuffer[]; crc: number } | { error: string }) => {
      if ("error" in m) reject(new SnapshotUnusable(m.error));
      else resolve({ arrays: m.buffers.map((b, k) => new KINDS[sections[k]!.kind](b)), crc: m.crc });
    });
    worker.once("error", (e) => reject(e));
    worker.once("exit", () => reject(new Error("the snapshot's reader thread ended without an answer")));
  });
}

/** The body's reader thread, in plain JavaScript. */
const READ_BODY = `
const { readSync } = require("node:fs");
const { crc32 } = require("node:zlib");
const KINDS = { f64: Float64Array, i32: Int32Array, u32: Uint32Array, i8: Int8Array, u8: Uint8Array };
function readBody({ fd, start, sections }) {
  const buffers = [];
  let crc = 0;
  let position = start;
  for (const s of sections) {
    const Ctor = KINDS[s.kind];
    const buffer = new ArrayBuffer(s.capacity * Ctor.BYTES_PER_ELEMENT);
    const bytes = new Uint8Array(buffer, 0, s.length * Ctor.BYTES_PER_ELEMENT);
    for (let off = 0; off < bytes.length; ) {
      const n = readSync(fd, bytes, off, Math.min(1 << 30, bytes.length - off), position + off);
      if (n === 0) return { error: "the file ends before its last array (truncated)" };
      off += n;
    }
    if (bytes.length > 0) crc = crc32(bytes, crc);
    position += bytes.length;
    buffers.push(buffer);
  }
  return { buffers, crc };
}
const { parentPort, workerData } = require("node:worker_threads");
const r = readBody(workerData);
parentPort.postMessage(r, r.error === undefined ? r.buffers : []);
`;
