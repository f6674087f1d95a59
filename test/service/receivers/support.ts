import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { InboundRequest } from "../../../src/service/receivers/types.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/receivers/", import.meta.url));

/** A fixture without its `_source` citation. */
export function fixture<T = unknown>(name: string): T {
  const { _source, ...rest } = JSON.parse(readFileSync(`${FIXTURES}${name}`, "utf8")) as Record<
    string,
    unknown
  >;
  if (typeof _source !== "string") throw new Error(`${name} cites no _source`);
  return rest as T;
}

export function request(
  body: string | Buffer,
  headers: InboundRequest["headers"],
  now: number,
): InboundRequest {
  return { headers, rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8"), now };
}
