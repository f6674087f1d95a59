/**
 * An export schedule's target as stored: URLs and templates checked, credentials and
 * header values sealed with SLICE_SECRET_KEY (the record keeps only a masked key id and
 * header names), and opened again for a run.
 */
import type { ScheduleRecord } from "../../store/model/schedule.ts";
import type { JsonObject } from "../../store/types.ts";
import { invalid } from "../errors.ts";
import { checkWebhookUrl } from "../webhook-url.ts";
import { checkTemplate, type TargetInput } from "./input.ts";
import type { ScheduleServiceOptions } from "./service.ts";
import { MASK, maskKeyId } from "./wire.ts";

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by the upload itself; a second value would make an invalid request. */
const RESERVED_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection"]);

export interface StoredTarget {
  target: JsonObject;
  /** Sealed credentials, or "" for none. */
  sealed: string;
}

function originOf(template: string): string {
  try {
    return new URL(template.replace(/\{[a-z_]+\}/g, "x")).origin;
  } catch {
    return "";
  }
}

export class StoredTargets {
  constructor(
    private readonly o: Pick<ScheduleServiceOptions, "box" | "allowInsecureHttp" | "denyPrivate">,
  ) {}

  private async checkUrl(url: string, path: string): Promise<void> {
    // Placeholders are checked here and filled in at run time.
    checkTemplate(url, path);
    const sample = url.replace(/\{[a-z_]+\}/g, "x");
    let u: URL;
    try {
      u = new URL(sample);
    } catch {
      throw invalid(path, "expected an absolute https URL");
    }
    const insecure = this.o.allowInsecureHttp === true;
    if (u.protocol !== "https:" && !(insecure && u.protocol === "http:")) {
      throw invalid(path, insecure ? "must use http or https" : "must use https");
    }
    if (u.username || u.password) throw invalid(path, "must not hold credentials: use headers");
    const problem = await checkWebhookUrl(sample, { denyPrivate: this.o.denyPrivate ?? true });
    if (problem) throw invalid(path, problem.replace(/^url /, ""));
  }

  /** Names resolve again at each run: one that now points at a private address is refused. */
  async checkReachable(url: string): Promise<void> {
    if (this.o.denyPrivate === false) return;
    const problem = await checkWebhookUrl(url, { denyPrivate: true });
    if (problem) throw new Error(problem);
  }

  private seal(secrets: Record<string, string>, path: string): string {
    if (!this.o.box) {
      throw invalid(
        path,
        "SLICE_SECRET_KEY is not set: credentials cannot be stored encrypted. Set it (at least 16 characters) and restart",
      );
    }
    return this.o.box.seal(secrets);
  }

  open(sealed: string): Record<string, string> {
    if (sealed === "") return {};
    if (!this.o.box)
      throw new Error("SLICE_SECRET_KEY is not set: the schedule's credentials cannot be opened");
    return this.o.box.open(sealed);
  }

  /** The target to store and its credentials; `before` gives credentials left out of a change. */
  async stored(t: TargetInput, before: ScheduleRecord | null): Promise<StoredTarget> {
    const kept = before && before.target.kind === t.kind ? before : null;
    if (t.kind === "s3") {
      checkTemplate(t.key, "target.key");
      if (t.endpoint !== undefined) await this.checkUrl(t.endpoint, "target.endpoint");
      let sealed: string;
      let masked: string;
      if (t.access_key_id === undefined && t.secret_access_key === undefined && kept) {
        if ((kept.target.endpoint ?? null) !== (t.endpoint ?? null)) {
          throw invalid(
            "target.access_key_id",
            "required with a new endpoint: stored credentials stay with theirs",
          );
        }
        sealed = kept.secrets;
        masked = String(kept.target.access_key_id_masked ?? MASK);
      } else {
        if (t.access_key_id === undefined) throw invalid("target.access_key_id", "required");
        if (t.secret_access_key === undefined) throw invalid("target.secret_access_key", "required");
        sealed = this.seal(
          { access_key_id: t.access_key_id, secret_access_key: t.secret_access_key },
          "target.secret_access_key",
        );
        masked = maskKeyId(t.access_key_id);
      }
      const target: JsonObject = { kind: "s3", bucket: t.bucket, key: t.key, access_key_id_masked: masked };
      if (t.region !== undefined) target.region = t.region;
      if (t.endpoint !== undefined) target.endpoint = t.endpoint;
      if (t.force_path_style !== undefined) target.force_path_style = t.force_path_style;
      return { target, sealed };
    }
    await this.checkUrl(t.url, "target.url");
    if (t.headers === undefined && kept) {
      const names = Array.isArray(kept.target.header_names) ? kept.target.header_names : [];
      // Stored header values (tokens) are never sent to another host than they were given for.
      if (names.length > 0 && originOf(String(kept.target.url)) !== originOf(t.url)) {
        throw invalid(
          "target.headers",
          "required with a URL of another origin: stored headers stay with theirs",
        );
      }
      return {
        target: { kind: "http", url: t.url, header_names: kept.target.header_names ?? [] },
        sealed: kept.secrets,
      };
    }
    const headers = t.headers ?? {};
    for (const [name, value] of Object.entries(headers)) {
      const path = `target.headers.${name}`;
      if (!HEADER_NAME.test(name)) throw invalid(path, "invalid header name");
      if (RESERVED_HEADERS.has(name.toLowerCase())) throw invalid(path, "set by the upload itself");
      if (/[\r\n\0]/.test(value)) throw invalid(path, "a header value must not hold line breaks");
    }
    const names = Object.keys(headers);
    return {
      target: { kind: "http", url: t.url, header_names: names },
      sealed: names.length > 0 ? this.seal(headers, "target.headers") : "",
    };
  }
}
