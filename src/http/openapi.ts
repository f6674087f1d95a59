/**
 * `GET /v1/openapi.json`, generated from the same zod schemas the routes parse with and
 * answer in (zod 4's JSON Schema output), so the document cannot drift from what is
 * accepted. Answers are checked against their schema when `SLICE_CHECK_RESPONSES=1`
 * (the test suite sets it), so a response schema that drifts from what a handler
 * really sends fails the tests that call it.
 */
import { z } from "zod";
import { RuleSchema } from "../rules/schema.ts";
import { issuePath } from "../service/wire.ts";
import type { Access } from "./access.ts";

export type OkStatus = 200 | 201 | 202 | 204;

export interface RouteDoc {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  summary: string;
  tag: string;
  body?: z.ZodType;
  /** The query parameters the route takes; any other is refused. Typed by `QUERY_TYPES` or `queryTypes`. */
  query?: string[];
  /** Types of this route's query parameters where they differ from `QUERY_TYPES`. */
  queryTypes?: Record<string, z.ZodType>;
  /** The key access the route needs (default: `read` for a GET, `write` otherwise). */
  access?: Access;
  /** The JSON body of a successful answer; absent when the answer is 204 or not JSON (`produces`). */
  response?: z.ZodType;
  /** Success statuses (default 200, or 204 for a route without `response`). */
  ok?: readonly OkStatus[];
  /** A conditional write: takes `If-Match` (412 when stale). */
  ifMatch?: boolean;
  /** The answer carries an `ETag`. */
  etag?: boolean;
  /** A request body that is not JSON: its media types (e.g. a CSV import). */
  consumes?: readonly string[];
  /** An answer that is not JSON: its media types (an export, the event stream). */
  produces?: readonly string[];
  /** How the caller authenticates: a bearer key (default) or HTTP Basic with the key as user name (Segment's way). */
  auth?: "bearer" | "basic";
}

/** The types of the query parameters that mean the same on every route. */
export const QUERY_TYPES: Record<string, z.ZodType> = {
  limit: z.int().min(1).meta({ description: "1 to 1000 (default 100); larger values are clamped" }),
  cursor: z.string().meta({ description: "The `next_cursor` of the previous page" }),
  segment: z.string().meta({ description: "A segment id" }),
  email: z.string().max(254),
  external_id: z.string().max(255),
  id: z.string().max(255).meta({ description: "A contact id" }),
};

function schemaOf(s: z.ZodType, io: "input" | "output" = "input"): Record<string, unknown> {
  try {
    const out = z.toJSONSchema(s, {
      io,
      unrepresentable: "any",
      cycles: "ref",
      reused: "inline",
    }) as Record<string, unknown>;
    delete out.$schema;
    return out;
  } catch {
    return {};
  }
}

const ERROR_SCHEMA = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        details: { type: "object" },
      },
      required: ["code", "message"],
    },
  },
  required: ["error"],
};

const error = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

const IDEMPOTENCY_KEY = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "A retry with the same key and body answers the first answer again (kept 24 h); another body answers 422, one still running 409",
  schema: { type: "string", maxLength: 255 },
};

const IF_MATCH = {
  name: "If-Match",
  in: "header",
  required: false,
  description: "The ETag last read: the write is refused with 412 when the resource changed since",
  schema: { type: "string" },
};

const ETAG = { description: "The version read, for `If-Match`", schema: { type: "string" } };

/** The default success statuses of a route. */
export function okStatuses(r: RouteDoc): readonly OkStatus[] {
  return r.ok ?? (r.response || r.produces ? [200] : [204]);
}

function operation(r: RouteDoc): Record<string, unknown> {
  const params: Record<string, unknown>[] = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: "path",
    required: true,
    schema: { type: "string" },
  }));
  for (const name of r.query ?? []) {
    const t = r.queryTypes?.[name] ?? QUERY_TYPES[name];
    params.push({ name, in: "query", required: false, schema: t ? schemaOf(t) : { type: "string" } });
  }
  if (r.method === "POST") params.push(IDEMPOTENCY_KEY);
  if (r.ifMatch) params.push(IF_MATCH);

  const responses: Record<string, unknown> = {};
  for (const status of okStatuses(r)) {
    const headers = r.etag ? { headers: { ETag: ETAG } } : {};
    if (status === 204) responses["204"] = { description: "Done, no body" };
    else if (r.produces)
      responses[status] = {
        description: "OK",
        ...headers,
        content: Object.fromEntries(r.produces.map((t) => [t, { schema: { type: "string" } }])),
      };
    else
      responses[status] = {
        description: status === 201 ? "Created" : status === 202 ? "Accepted" : "OK",
        ...headers,
        content: { "application/json": { schema: r.response ? schemaOf(r.response, "output") : {} } },
      };
  }
  responses["400"] = error("Invalid input; `details.path` names the bad part");
  responses["401"] = error("No key, or an unknown one");
  responses["403"] = error("The key's role does not allow this");
  if (r.path.includes("{")) responses["404"] = error("Not found in the caller's workspace");
  if (r.method !== "GET") responses["409"] = error("Conflict (a resource in use, a retry still running)");
  if (r.ifMatch) responses["412"] = error("If-Match is stale: the resource changed since it was read");
  if (r.body || r.consumes) {
    responses["413"] = error("The body is larger than the limit");
    responses["415"] = error("The body's Content-Type is not accepted");
  }
  if (r.method === "POST") responses["422"] = error("Idempotency-Key reused with another body");
  responses["429"] = error("Too many requests; see Retry-After");
  responses["503"] = error("Still loading; see Retry-After and /readyz");

  const op: Record<string, unknown> = {
    operationId: operationId(r),
    summary: r.summary,
    tags: [r.tag],
    parameters: params,
    responses,
    ...(r.auth === "basic" ? { security: [{ basic: [] }] } : {}),
  };
  if (r.body)
    op.requestBody = {
      required: true,
      content: { "application/json": { schema: schemaOf(r.body) } },
    };
  else if (r.consumes)
    op.requestBody = {
      required: true,
      content: Object.fromEntries(r.consumes.map((t) => [t, { schema: { type: "string" } }])),
    };
  return op;
}

/** `GET /v1/segments/{id}/contacts` → `getSegmentsIdContacts`: stable, unique per method and path. */
function operationId(r: RouteDoc): string {
  const words = r.path
    .split("/")
    .filter((p) => p !== "" && p !== "v1")
    .map((p) => p.replace(/[{}]/g, "").replace(/[-_](\w)/g, (_, c: string) => c.toUpperCase()));
  return r.method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

type Json = Record<string, unknown>;

/** The `$defs` entry zod writes for `z.json()`, to know it again. */
const JSON_VALUE_DEF = JSON.stringify(
  (z.toJSONSchema(z.array(z.json()), { cycles: "ref", reused: "inline" }).$defs as Json).__schema0,
);

/**
 * zod writes the parts of a recursive schema as `$defs` referred to as `#/$defs/…`, and a
 * schema containing itself as `#`: both relative to that schema, which, placed inside the
 * document, point nowhere (or at the document). They become `components.schemas`
 * entries, shared by content. A JSON value (`z.json()`) becomes `{}`: its recursive union
 * has no TypeScript type a generator can write (openapi-typescript's is circular, so `any`).
 */
function hoistDefs(doc: Json): Json {
  const components = (doc.components as Json).schemas as Json;
  const byContent = new Map<string, string>();
  const rewrite = (node: unknown, refs: Record<string, string>, self: () => string): void => {
    if (node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const n of node) rewrite(n, refs, self);
      return;
    }
    const o = node as Json;
    if (o.$ref === "#") o.$ref = self();
    else if (typeof o.$ref === "string" && o.$ref.startsWith("#/$defs/")) o.$ref = refs[o.$ref.slice(8)];
    for (const v of Object.values(o)) rewrite(v, refs, self);
  };
  const place = (schema: Json, name?: string): Json => {
    const defs = (schema.$defs ?? {}) as Record<string, Json>;
    delete schema.$defs;
    const refs: Record<string, string> = {};
    const hoisted: [string, Json][] = [];
    for (const [k, def] of Object.entries(defs)) {
      const content = JSON.stringify(def);
      if (content === JSON_VALUE_DEF) {
        components.JsonValue = { description: "Any JSON value" };
        refs[k] = "#/components/schemas/JsonValue";
        continue;
      }
      let n = byContent.get(content);
      if (!n) {
        n = `Schema${byContent.size + 1}`;
        byContent.set(content, n);
        hoisted.push([n, def]);
      }
      refs[k] = `#/components/schemas/${n}`;
    }
    let selfName: string | undefined;
    const self = () => {
      selfName ??= name ?? `Schema${byContent.size + 1}`;
      return `#/components/schemas/${selfName}`;
    };
    for (const [, def] of hoisted) rewrite(def, refs, self);
    rewrite(schema, refs, self);
    for (const [n, def] of hoisted) components[n] = def;
    if (selfName === undefined || name !== undefined) return schema;
    byContent.set(JSON.stringify(schema), selfName);
    components[selfName] = schema;
    return { $ref: `#/components/schemas/${selfName}` };
  };
  for (const [name, schema] of Object.entries(components)) components[name] = place(schema as Json, name);
  for (const item of Object.values(doc.paths as Record<string, Record<string, Json>>)) {
    for (const op of Object.values(item)) {
      for (const p of (op.parameters ?? []) as Json[]) p.schema = place(p.schema as Json);
      const bodies = [op.requestBody as Json | undefined, ...Object.values((op.responses ?? {}) as Json)];
      for (const b of bodies as (Json | undefined)[]) {
        for (const media of Object.values((b?.content ?? {}) as Record<string, Json>)) {
          media.schema = place(media.schema as Json);
        }
      }
    }
  }
  return doc;
}

export function openApiDocument(routes: readonly RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = operation(r);
  }
  return hoistDefs({
    openapi: "3.1.0",
    info: {
      title: "Slice API",
      version: "1",
      description: "Real-time contact segmentation. Authenticate with `Authorization: Bearer <api key>`.",
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        basic: {
          type: "http",
          scheme: "basic",
          description: "An API key as the user name, an empty password",
        },
      },
      schemas: { Rule: schemaOf(RuleSchema), Error: ERROR_SCHEMA },
    },
    security: [{ bearer: [] }],
    paths,
  });
}

/**
 * Why an answer does not match what the route's document says it answers, or null.
 * The body is compared in its JSON form, as the client receives it.
 */
export function responseProblem(r: RouteDoc, status: number, body: unknown): string | null {
  const where = `${r.method} ${r.path}`;
  const ok = okStatuses(r);
  if (!(ok as readonly number[]).includes(status))
    return `${where} answered ${status}, documented as ${ok.join(" or ")}`;
  if (status === 204) return body === undefined ? null : `${where} answered 204 with a body`;
  if (!r.response) return `${where} answered a JSON body but documents no response schema`;
  const json: unknown = JSON.parse(JSON.stringify(body));
  const res = r.response.safeParse(json);
  if (res.success) return null;
  const first = res.error.issues.slice(0, 3).map((i) => `${issuePath("", i.path) || "(body)"}: ${i.message}`);
  return `${where}: the answer does not match its response schema: ${first.join("; ")}`;
}
