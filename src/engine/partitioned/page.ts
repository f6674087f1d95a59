/**
 * A page of member ids in contact id order (docs/cluster.md, "Every core"): each worker
 * answers the lowest ids after the cursor among its members, and the coordinator merges
 * those. The order is JavaScript's, by UTF-16 code units, which for the ASCII ids Slice
 * generates is the store's (binary, `COLLATE "C"`), so a cursor is the last id of a page
 * and a page after it is exact whatever was written in between.
 */

/**
 * The `limit` lowest of `ids` greater than `after`, in order. A bounded max-heap: a
 * segment of a million members costs a million comparisons against the heap's top, not
 * a sort of them all for each page.
 */
export function lowestAfter(ids: Iterable<string>, after: string, limit: number): string[] {
  if (limit <= 0) return [];
  const heap: string[] = [];
  for (const id of ids) {
    if (id <= after) continue;
    if (heap.length < limit) {
      heap.push(id);
      siftUp(heap, heap.length - 1);
    } else if (id < heap[0]) {
      heap[0] = id;
      siftDown(heap, 0);
    }
  }
  return heap.sort(ascending);
}

/** One page of ids merged from every worker's lowest `limit + 1`: the page, and its cursor when more follow. */
export function mergePage(
  answers: readonly (readonly string[])[],
  limit: number,
): { ids: string[]; next: string | null } {
  const all = answers.flat().sort(ascending);
  const ids = all.slice(0, limit);
  return { ids, next: all.length > limit && ids.length > 0 ? ids[ids.length - 1] : null };
}

function ascending(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function siftUp(h: string[], i: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p] >= h[i]) return;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}

function siftDown(h: string[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let top = i;
    if (l < h.length && h[l] > h[top]) top = l;
    if (r < h.length && h[r] > h[top]) top = r;
    if (top === i) return;
    [h[top], h[i]] = [h[i], h[top]];
    i = top;
  }
}
