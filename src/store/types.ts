/**
 * The persistence interface of Slice (docs/storage.md). Two adapters implement it:
 * SQLite (embedded default) and PostgreSQL. Everything is async because PostgreSQL is.
 *
 * Isolation: a workspace's data is read and written through the repositories
 * `store.workspace(ws)` binds to it, which only ever touch rows of that workspace. The
 * only methods that are not scoped are the ones that cannot be: workspace
 * administration, `authenticate`, which finds the workspace a key belongs to, and
 * `findReceiver`, whose public path names no workspace.
 *
 * Times are epoch milliseconds throughout.
 *
 * The types live in one module per resource under model/; this module gathers them, so
 * that importers name one path.
 */

export * from "./model/change.ts";
export * from "./model/common.ts";
export * from "./model/contact.ts";
export * from "./model/event.ts";
export * from "./model/import.ts";
export * from "./model/ingest.ts";
export * from "./model/segment.ts";
export * from "./model/snapshot.ts";
export * from "./model/store.ts";
export * from "./model/webhook.ts";
export * from "./model/workspace.ts";
export type { WorkspaceRepos } from "./repos/index.ts";
