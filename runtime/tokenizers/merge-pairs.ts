/**
 * BPE's merge loop, shared by llama2.c's tokenizer (pieces by score) and Hugging Face's BPE (merges
 * by rank): while some adjacent pair may merge, merge the pair of lowest rank, the leftmost of
 * equals. In O(n log n) (a SentencePiece-style BPE without pre-tokenizer sees a whole text as one
 * word): the symbols as a linked list, each candidate pair in a heap, an entry whose symbols have
 * changed since it was pushed skipped when it comes up.
 */

/**
 * `ids` merged in place of a copy: `rank(left, right)` is the pair's rank (undefined: it does not
 * merge), `merged(left, right)` the id the pair becomes.
 */
export function mergePairs(
  ids: readonly number[],
  rank: (left: number, right: number) => number | undefined,
  merged: (left: number, right: number) => number,
): number[] {
  const symbols = ids.slice();
  const n = symbols.length;
  const next = Int32Array.from({ length: n }, (_, i) => i + 1);
  const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
  // Entries [rank, position, left id, right id]; the id -1 of a removed symbol makes its entries stale.
  const heap: number[][] = [];
  const less = (a: number[], b: number[]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const push = (pos: number) => {
    if (pos < 0 || next[pos] >= n) return;
    const r = next[pos];
    const k = rank(symbols[pos], symbols[r]);
    if (k === undefined) return;
    heap.push([k, pos, symbols[pos], symbols[r]]);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  };
  const pop = (): number[] => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  };
  for (let i = 0; i + 1 < n; i++) push(i);
  while (heap.length > 0) {
    const [, pos, left, right] = pop();
    const r = next[pos];
    // Stale: a symbol of the pair was merged away or changed since the entry was pushed.
    if (symbols[pos] !== left || r >= n || symbols[r] !== right) continue;
    symbols[pos] = merged(left, right);
    symbols[r] = -1;
    next[pos] = next[r];
    if (next[r] < n) prev[next[r]] = pos;
    push(prev[pos]);
    push(pos);
  }
  return symbols.filter((id) => id >= 0);
}
