/**
 * Which partition holds a contact (docs/cluster.md, "Partitions"): a stable hash of the
 * contact's id, never of an email or other identity, which can change. The count is
 * fixed and over-provisioned, as Flink's key groups are, so partitions move whole
 * between workers and nodes and no contact is ever rehashed.
 */

/** Partitions of a workspace: room for 64 cores across a cluster without rehashing. */
export const DEFAULT_PARTITIONS = 64;

/** FNV-1a (32 bits) of the id's UTF-16 code units, modulo `partitions`. */
export function partitionOf(contactId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < contactId.length; i++) {
    h ^= contactId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** The worker that runs partition `p` of `workers`. */
export function workerOf(p: number, workers: number): number {
  return p % workers;
}
