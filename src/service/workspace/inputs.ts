/**
 * The parsed request types of the workspace's use cases, each the output of its zod
 * schema in ../wire.ts: routes parse with the schema, services take the type, and
 * the OpenAPI document names the same schema.
 */
import type { z } from "zod";
import type {
  ActionInput,
  MembersInput,
  PreviewInput,
  RefsInput,
  SegmentInput,
  SegmentReplace,
} from "../wire.ts";

export type { FieldDeclaration as FieldInput } from "../computed-fields.ts";
export type { ContactInput, EventInput } from "../wire.ts";
export type SegmentCreate = z.output<typeof SegmentInput>;
export type SegmentReplacement = z.output<typeof SegmentReplace>;
export type PreviewRequest = z.output<typeof PreviewInput>;
export type MembersAdd = z.output<typeof MembersInput>;
export type ContactRefs = z.output<typeof RefsInput>;
export type SegmentAction = z.output<typeof ActionInput>;
