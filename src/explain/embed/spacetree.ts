/**
 * A Barnes-Hut space-partitioning tree over 2-D or 3-D points (a quadtree or an octree), rebuilt
 * every t-SNE iteration. Points live in one Float64Array of x, y, z triples; 2-D points have
 * z = 0, so the same code serves both (only four of the eight children are ever used).
 *
 * Flat typed arrays rather than node objects: a 10,000-point tree is rebuilt 1,000 times, and
 * allocation-free rebuilds keep the garbage collector out of the loop.
 */

/** Field offsets within a node's NODE_STRIDE doubles in SpaceTree.packed. */
export const PACKED = { comX: 0, comY: 1, comZ: 2, width2: 3, count: 4, firstChild: 5, childCount: 6, start: 7 } as const;
export const NODE_STRIDE = 8;

/**
 * Points per leaf. A leaf holds more only when its points are identical, or closer than
 * 2^-MAX_DEPTH of the layout's width, so every leaf can stand for its points at its centre of mass.
 */
const LEAF_CAPACITY = 1;
const MAX_DEPTH = 48;

export class SpaceTree {
  /** Number of nodes in use; node 0 is the root. */
  nodes = 0;
  /** Permutation of the points: every node owns order[start .. start + count). */
  order: Int32Array;
  start: Int32Array;
  count: Int32Array;
  /** Index of the first child (children are consecutive), or -1 for a leaf. */
  firstChild: Int32Array;
  childCount: Int32Array;
  /** Centre of mass. */
  comX: Float64Array;
  comY: Float64Array;
  comZ: Float64Array;
  /** Side length of the node's cubic cell. */
  width: Float64Array;
  /**
   * What the force traversal reads, one node per NODE_STRIDE doubles (see PACKED): interleaved
   * so that visiting a node touches one cache line instead of eight arrays.
   */
  packed: Float64Array;
  /** The leaf that holds each point. */
  leafOf: Int32Array;
  // Cell geometry, used while building.
  private cx: Float64Array;
  private cy: Float64Array;
  private cz: Float64Array;
  private depth: Int32Array;
  private scratch: Int32Array;
  private codes: Uint8Array;

  constructor(private readonly n: number) {
    this.order = new Int32Array(n);
    this.leafOf = new Int32Array(n);
    this.scratch = new Int32Array(n);
    this.codes = new Uint8Array(n);
    const cap = Math.max(16, 2 * n);
    this.start = new Int32Array(cap);
    this.count = new Int32Array(cap);
    this.firstChild = new Int32Array(cap);
    this.childCount = new Int32Array(cap);
    this.comX = new Float64Array(cap);
    this.comY = new Float64Array(cap);
    this.comZ = new Float64Array(cap);
    this.width = new Float64Array(cap);
    this.cx = new Float64Array(cap);
    this.cy = new Float64Array(cap);
    this.cz = new Float64Array(cap);
    this.depth = new Int32Array(cap);
    this.packed = new Float64Array(cap * NODE_STRIDE);
  }

  private grow(): void {
    const cap = this.start.length * 2;
    const g = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (len: number) => T)(cap);
      b.set(a);
      return b;
    };
    this.start = g(this.start);
    this.count = g(this.count);
    this.firstChild = g(this.firstChild);
    this.childCount = g(this.childCount);
    this.comX = g(this.comX);
    this.comY = g(this.comY);
    this.comZ = g(this.comZ);
    this.width = g(this.width);
    this.cx = g(this.cx);
    this.cy = g(this.cy);
    this.cz = g(this.cz);
    this.depth = g(this.depth);
  }

  private addNode(start: number, count: number, cx: number, cy: number, cz: number, width: number, depth: number): number {
    if (this.nodes === this.start.length) this.grow();
    const id = this.nodes++;
    this.start[id] = start;
    this.count[id] = count;
    this.cx[id] = cx;
    this.cy[id] = cy;
    this.cz[id] = cz;
    this.width[id] = width;
    this.depth[id] = depth;
    this.firstChild[id] = -1;
    this.childCount[id] = 0;
    return id;
  }

  /** Rebuilds the tree over `y` (n triples). */
  build(y: Float64Array): void {
    const n = this.n;
    const order = this.order;
    for (let i = 0; i < n; i++) order[i] = i;
    let minX = Infinity, minY = Infinity, minZ = Infinity, maxX = -Infinity, maxY = -Infinity, maxZ = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = y[3 * i], yy = y[3 * i + 1], z = y[3 * i + 2];
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (yy < minY) minY = yy;
      if (yy > maxY) maxY = yy;
      if (z < minZ) minZ = z;
      if (z > maxZ) maxZ = z;
    }
    const side = Math.max(maxX - minX, maxY - minY, maxZ - minZ);
    // A little slack so the points on the max faces fall strictly inside.
    const width = side * (1 + 1e-6) + 1e-12;
    this.nodes = 0;
    this.addNode(0, n, (minX + maxX) / 2, (minY + maxY) / 2, (minZ + maxZ) / 2, width, 0);

    const codes = this.codes;
    const scratch = this.scratch;
    const bucket = new Int32Array(8);
    const offset = new Int32Array(8);
    for (let nd = 0; nd < this.nodes; nd++) {
      const s = this.start[nd];
      const c = this.count[nd];
      if (c <= LEAF_CAPACITY || this.depth[nd] >= MAX_DEPTH) continue;
      const cx = this.cx[nd], cy = this.cy[nd], cz = this.cz[nd];
      bucket.fill(0);
      for (let t = s; t < s + c; t++) {
        const p = 3 * order[t];
        const code = (y[p] >= cx ? 1 : 0) | (y[p + 1] >= cy ? 2 : 0) | (y[p + 2] >= cz ? 4 : 0);
        codes[t] = code;
        bucket[code]++;
      }
      let used = 0;
      for (let k = 0; k < 8; k++) if (bucket[k] > 0) used++;
      if (used === 1 && allSame(y, order, s, c)) continue; // identical points: one leaf
      let acc = s;
      for (let k = 0; k < 8; k++) {
        offset[k] = acc;
        acc += bucket[k];
      }
      for (let t = s; t < s + c; t++) scratch[offset[codes[t]]++] = order[t];
      order.set(scratch.subarray(s, s + c), s);
      const half = this.width[nd] / 2;
      const q = half / 2;
      let childStart = s;
      let first = -1;
      for (let k = 0; k < 8; k++) {
        const m = bucket[k];
        if (m === 0) continue;
        const id = this.addNode(childStart, m, cx + (k & 1 ? q : -q), cy + (k & 2 ? q : -q), cz + (k & 4 ? q : -q), half, this.depth[nd] + 1);
        if (first < 0) first = id;
        childStart += m;
      }
      this.firstChild[nd] = first;
      this.childCount[nd] = used;
    }

    if (this.packed.length < this.nodes * NODE_STRIDE) this.packed = new Float64Array(this.start.length * NODE_STRIDE);
    // Centres of mass, children before parents (children always have larger ids).
    for (let nd = this.nodes - 1; nd >= 0; nd--) {
      let sx = 0, sy = 0, sz = 0;
      const fc = this.firstChild[nd];
      if (fc < 0) {
        for (let t = this.start[nd], e = t + this.count[nd]; t < e; t++) {
          this.leafOf[order[t]] = nd;
          const p = 3 * order[t];
          sx += y[p];
          sy += y[p + 1];
          sz += y[p + 2];
        }
      } else {
        for (let ch = fc, e = fc + this.childCount[nd]; ch < e; ch++) {
          const m = this.count[ch];
          sx += m * this.comX[ch];
          sy += m * this.comY[ch];
          sz += m * this.comZ[ch];
        }
      }
      const inv = 1 / this.count[nd];
      this.comX[nd] = sx * inv;
      this.comY[nd] = sy * inv;
      this.comZ[nd] = sz * inv;
      const o = nd * NODE_STRIDE;
      const pk = this.packed;
      pk[o + PACKED.comX] = this.comX[nd];
      pk[o + PACKED.comY] = this.comY[nd];
      pk[o + PACKED.comZ] = this.comZ[nd];
      pk[o + PACKED.width2] = this.width[nd] * this.width[nd];
      pk[o + PACKED.count] = this.count[nd];
      pk[o + PACKED.firstChild] = this.firstChild[nd];
      pk[o + PACKED.childCount] = this.childCount[nd];
      pk[o + PACKED.start] = this.start[nd];
    }
  }
}

function allSame(y: Float64Array, order: Int32Array, s: number, c: number): boolean {
  const p0 = 3 * order[s];
  for (let t = s + 1; t < s + c; t++) {
    const p = 3 * order[t];
    if (y[p] !== y[p0] || y[p + 1] !== y[p0 + 1] || y[p + 2] !== y[p0 + 2]) return false;
  }
  return true;
}
