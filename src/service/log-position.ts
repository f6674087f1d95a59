/**
 * Positions in the change and event logs as clients see them: the `cursor` of
 * `/changes` and of a contact's events, the stream's event ids (`Last-Event-ID`) and a
 * destination run's `from_seq`/`to_seq`. The store numbers changes and events with one
 * counter shared by every workspace, so a raw number would tell one tenant how busy the
 * others are; a client gets an opaque token instead.
 *
 * A token is the position encrypted under a key of its workspace (AES-256-GCM), with
 * the IV derived from the position (as SIV does): the same position always gives the
 * same token, so a client can compare ids, and a token of another workspace, or a
 * forged or altered one, fails to open and is refused.
 */
import { createCipheriv, createDecipheriv, createHmac } from "node:crypto";
import { invalid } from "./errors.ts";

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Positions are short (`123`, `1717000000000.42`): anything longer is not a token. */
const MAX_TOKEN_CHARS = 128;

/** The log-position keys of every workspace, derived from the server's one secret. */
export class LogPositions {
  private readonly perWorkspace = new Map<string, WorkspacePositions>();

  constructor(private readonly secret: Buffer) {}

  of(ws: string): WorkspacePositions {
    let p = this.perWorkspace.get(ws);
    if (!p) {
      p = new WorkspacePositions(
        createHmac("sha256", this.secret).update(`log-position:enc:${ws}`).digest(),
        createHmac("sha256", this.secret).update(`log-position:iv:${ws}`).digest(),
      );
      this.perWorkspace.set(ws, p);
    }
    return p;
  }
}

export class WorkspacePositions {
  constructor(
    private readonly encKey: Buffer,
    private readonly ivKey: Buffer,
  ) {}

  /** The token of a position (a sequence number, or any short text of the store's cursors). */
  seal(position: number | string): string {
    const plain = Buffer.from(String(position), "utf8");
    const iv = createHmac("sha256", this.ivKey).update(plain).digest().subarray(0, IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.encKey, iv);
    const data = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, data, cipher.getAuthTag()]).toString("base64url");
  }

  /** The position of a token; an ApiError naming `path` when it is not one of this workspace's. */
  open(token: string, path: string): string {
    const bad = () => invalid(path, "not a cursor or event id given by this workspace");
    if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
    const raw = Buffer.from(token, "base64url");
    if (raw.length <= IV_BYTES + TAG_BYTES) throw bad();
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.encKey, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch {
      throw bad();
    }
  }

  /** The sequence number of a token of a sequence number. */
  openSeq(token: string, path: string): number {
    const s = this.open(token, path);
    if (!/^\d{1,16}$/.test(s)) throw invalid(path, "not a cursor or event id given by this workspace");
    return Number(s);
  }
}
