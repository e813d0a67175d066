/** Side-by-side line diff (longest common subsequence), for revisions and, later, executions. */

export interface DiffRow {
  left?: string;
  right?: string;
  kind: 'same' | 'removed' | 'added';
}

/** The rows of a side-by-side diff of two texts, line by line. */
export function diffLines(a: string, b: string): DiffRow[] {
  const left = a.split('\n');
  const right = b.split('\n');
  const n = left.length;
  const m = right.length;
  // lcs[i][j]: common lines of left[i..] and right[j..].
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      (lcs[i] as Uint32Array)[j] =
        left[i] === right[j]
          ? ((lcs[i + 1] as Uint32Array)[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as Uint32Array)[j] as number, (lcs[i] as Uint32Array)[j + 1] as number);
  const rows: DiffRow[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && left[i] === right[j]) {
      rows.push({ left: left[i], right: right[j], kind: 'same' });
      i++;
      j++;
    } else if (
      j < m &&
      (i >= n || ((lcs[i] as Uint32Array)[j + 1] as number) >= ((lcs[i + 1] as Uint32Array)[j] as number))
    ) {
      rows.push({ right: right[j], kind: 'added' });
      j++;
    } else {
      rows.push({ left: left[i], kind: 'removed' });
      i++;
    }
  }
  return rows;
}
