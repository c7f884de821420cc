/**
 * The Embedding Projector's custom linear projection: an axis from the centroid of the points
 * matching one search to the centroid of those matching another. Searches are regular
 * expressions over class names (case-insensitive). Coordinates are scaled so that the "from"
 * centroid sits at 0 and the "to" centroid at 1. When no --up/--down axis is given, the remaining
 * axes are the principal components of what the given axes leave unexplained, in the same units
 * as the x axis.
 */
import { UserError } from '../../util/errors.js';
import { columnMeans, centered } from './linalg.js';
import { fitPca } from './pca.js';
import type { CustomAxis, CustomSummary, DenseMatrix } from './types.js';

export interface CustomSpec {
  left: string;
  right: string;
  up?: string;
  down?: string;
}

export interface CustomResult {
  coords: Float64Array;
  axes: string[];
  summary: CustomSummary;
}

function classRegex(flag: string, pattern: string): RegExp {
  try {
    return new RegExp(pattern, 'i');
  } catch {
    throw new UserError(`--${flag} "${pattern}" is not a valid regular expression`);
  }
}

interface Search {
  flag: string;
  pattern: string;
  classes: number[];
  members: number[];
}

/** Fails fast (before any data is loaded) on searches that are invalid or match no class. */
export function checkCustomSearches(spec: CustomSpec, classNames: readonly string[]): void {
  if ((spec.up === undefined) !== (spec.down === undefined)) throw new UserError('--up and --down go together: give both or neither');
  for (const [flag, pattern] of [['left', spec.left], ['right', spec.right], ['up', spec.up], ['down', spec.down]] as const) {
    if (pattern === undefined) continue;
    const re = classRegex(flag, pattern);
    if (!classNames.some((n) => re.test(n))) throw new UserError(`--${flag} "${pattern}" matches no class (classes: ${classNames.join(', ')})`);
  }
}

function search(flag: string, pattern: string, labels: ArrayLike<number>, classNames: readonly string[]): Search {
  const re = classRegex(flag, pattern);
  const classes = classNames.map((name, c) => (re.test(name) ? c : -1)).filter((c) => c >= 0);
  if (classes.length === 0) throw new UserError(`--${flag} "${pattern}" matches no class (classes: ${classNames.join(', ')})`);
  const wanted = new Set(classes);
  const members: number[] = [];
  for (let i = 0; i < labels.length; i++) if (wanted.has(labels[i])) members.push(i);
  if (members.length === 0) throw new UserError(`--${flag} "${pattern}" matches ${classes.map((c) => classNames[c]).join(', ')}, but no sampled point has that class`);
  return { flag, pattern, classes, members };
}

function centroid(x: DenseMatrix, members: number[]): Float64Array {
  const c = new Float64Array(x.cols);
  for (const i of members) for (let j = 0; j < x.cols; j++) c[j] += x.data[i * x.cols + j];
  for (let j = 0; j < x.cols; j++) c[j] /= members.length;
  return c;
}

interface Axis {
  origin: Float64Array;
  /** Direction divided by its squared length, so (v - origin)·dir is 0 at "from" and 1 at "to". */
  dir: Float64Array;
  info: CustomAxis;
  label: string;
}

function makeAxis(x: DenseMatrix, from: Search, to: Search, classNames: readonly string[]): Axis {
  if (from.classes.length === to.classes.length && from.classes.every((c, i) => c === to.classes[i])) {
    throw new UserError(`--${from.flag} "${from.pattern}" and --${to.flag} "${to.pattern}" match the same classes, so they define no axis`);
  }
  const a = centroid(x, from.members);
  const b = centroid(x, to.members);
  const dir = new Float64Array(x.cols);
  let len2 = 0;
  for (let j = 0; j < x.cols; j++) {
    dir[j] = b[j] - a[j];
    len2 += dir[j] * dir[j];
  }
  if (!(len2 > 0)) throw new UserError(`the centroids of --${from.flag} and --${to.flag} coincide, so they define no axis`);
  for (let j = 0; j < x.cols; j++) dir[j] /= len2;
  const names = (s: Search) => s.classes.map((c) => classNames[c]).join(', ');
  return {
    origin: a,
    dir,
    label: `${names(from)} (0) → ${names(to)} (1)`,
    info: {
      from: from.pattern,
      to: to.pattern,
      fromClasses: from.classes.map((c) => classNames[c]),
      toClasses: to.classes.map((c) => classNames[c]),
      fromCount: from.members.length,
      toCount: to.members.length,
    },
  };
}

export function customProjection(x: DenseMatrix, labels: ArrayLike<number>, spec: CustomSpec, dims: 2 | 3, classNames: readonly string[]): CustomResult {
  if ((spec.up === undefined) !== (spec.down === undefined)) throw new UserError('--up and --down go together: give both or neither');
  const xAxis = makeAxis(x, search('left', spec.left, labels, classNames), search('right', spec.right, labels, classNames), classNames);
  const given = [xAxis];
  if (spec.up !== undefined && spec.down !== undefined) {
    given.push(makeAxis(x, search('down', spec.down, labels, classNames), search('up', spec.up, labels, classNames), classNames));
  }
  const n = x.rows;
  const d = x.cols;
  const coords = new Float64Array(n * dims);
  const used = Math.min(dims, given.length);
  for (let a = 0; a < used; a++) {
    const { origin, dir } = given[a];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (x.data[i * d + j] - origin[j]) * dir[j];
      coords[i * dims + a] = s;
    }
  }
  const axes = given.slice(0, used).map((g) => g.label);
  const fill = dims - used;
  if (fill > 0) {
    // Principal components of the data with the given directions projected out.
    const mean = columnMeans(x);
    const r = centered(x, mean);
    const basis = orthonormalBasis(given.map((g) => g.dir));
    for (let i = 0; i < n; i++) {
      const row = r.data.subarray(i * d, (i + 1) * d);
      for (const q of basis) {
        let p = 0;
        for (let j = 0; j < d; j++) p += row[j] * q[j];
        for (let j = 0; j < d; j++) row[j] -= p * q[j];
      }
    }
    const fit = fitPca(r, { top: fill });
    // Same units as the x axis: one unit = the distance between its two centroids (|dir| = 1 / that distance).
    const unit = Math.sqrt(squaredLength(xAxis.dir));
    for (let a = 0; a < fill; a++) {
      const v = fit.vectors[a];
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += r.data[i * d + j] * v[j];
        coords[i * dims + used + a] = s * unit;
      }
      axes.push(`residual PC${a + 1}`);
    }
  }
  return {
    coords,
    axes,
    summary: {
      x: xAxis.info,
      y: given.length > 1 ? given[1].info : null,
      filledBy: fill > 0 ? 'principal components of the residual' : null,
    },
  };
}

function squaredLength(v: Float64Array): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  return s;
}

function orthonormalBasis(dirs: Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (const dir of dirs) {
    const v = Float64Array.from(dir);
    for (const q of out) {
      let p = 0;
      for (let j = 0; j < v.length; j++) p += v[j] * q[j];
      for (let j = 0; j < v.length; j++) v[j] -= p * q[j];
    }
    const len = Math.sqrt(squaredLength(v));
    if (len > 1e-12 * Math.sqrt(squaredLength(dir))) {
      for (let j = 0; j < v.length; j++) v[j] /= len;
      out.push(v);
    }
  }
  return out;
}
