export { Bitset } from "./bitset.ts";
export { type ContactColumns, FieldValueError, type LoadColumn } from "./contacts.ts";
export {
  type CompiledQuery,
  Engine,
  type EventBatchResult,
  type Override,
  type SegmentDefinition,
  type StoredContact,
  type WriteOptions,
} from "./engine.ts";
export * from "./types.ts";
