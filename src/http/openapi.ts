/**
 * `GET /v1/openapi.json`, generated from the same zod schemas the routes parse with
 * (zod 4's JSON Schema output), so the document cannot drift from what is accepted.
 */
import { z } from "zod";
import { RuleSchema } from "../rules/schema.ts";
import type { Access } from "./access.ts";

export interface RouteDoc {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  summary: string;
  tag: string;
  body?: z.ZodType;
  query?: string[];
  /** The key access the route needs (default: `read` for a GET, `write` otherwise). */
  access?: Access;
}

function schemaOf(s: z.ZodType): Record<string, unknown> {
  try {
    return z.toJSONSchema(s, {
      io: "input",
      unrepresentable: "any",
      cycles: "ref",
      reused: "inline",
    }) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const ERROR = {
  description: "Error",
  content: {
    "application/json": {
      schema: {
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
      },
    },
  },
};

export function openApiDocument(routes: RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const query = (r.query ?? []).map((name) => ({
      name,
      in: "query",
      required: false,
      schema: { type: "string" },
    }));
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      parameters: [...params, ...query],
      responses: {
        "200": { description: "OK" },
        "400": ERROR,
        "401": ERROR,
        "403": ERROR,
        "404": ERROR,
        "409": ERROR,
        "413": ERROR,
        "429": ERROR,
      },
    };
    if (r.body)
      op.requestBody = { required: true, content: { "application/json": { schema: schemaOf(r.body) } } };
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Slice API",
      version: "1",
      description: "Real-time contact segmentation. Authenticate with `Authorization: Bearer <api key>`.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Rule: schemaOf(RuleSchema) },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
