export { Bitset } from "./bitset.ts";
export { FieldValueError } from "./contacts.ts";
export { type CompiledQuery, Engine, type SegmentDefinition } from "./engine.ts";
export * from "./types.ts";
