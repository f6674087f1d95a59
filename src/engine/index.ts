export { Bitset } from "./bitset.ts";
export { FieldValueError } from "./contacts.ts";
export {
  type CompiledQuery,
  Engine,
  EVENT_TYPE,
  type EventBatchResult,
  type Override,
  type SegmentDefinition,
  type StoredContact,
  type WriteOptions,
} from "./engine.ts";
export * from "./types.ts";
