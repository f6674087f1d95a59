export * from "./bucket.ts";
export * from "./defaults.ts";
export * from "./errors.ts";
export * from "./fields.ts";
export * from "./operators.ts";
export * from "./schema.ts";
export * from "./time.ts";
export * from "./validate.ts";
