/**
 * The seeding half of seedrandom's Alea generator, which TF.js uses for random tensors and
 * dropout masks. The generating half runs natively (native/src/random.cc); together they give
 * the same numbers as TF.js, so a seeded run draws the same dropout masks on every backend.
 *
 * Hand-ported (seedrandom 3.0.5, lib/alea.js) because seedrandom is only a transitive dependency
 * and does not expose the state as integers. Every state value is a multiple of 2^-32, so the
 * state travels to C++ as integers.
 */
export interface AleaState {
  carry: number;
  s0: number;
  s1: number;
  s2: number;
}

function mash(): (data: string) => number {
  let n = 0xefc8249d;
  return (data: string) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * 2.3283064365386963e-10;
  };
}

/** Alea's state right after seeding with `seed`, as integers (s * 2^32). */
export function aleaSeed(seed: string): AleaState {
  const m = mash();
  let s0 = m(' ');
  let s1 = m(' ');
  let s2 = m(' ');
  s0 -= m(seed);
  if (s0 < 0) s0 += 1;
  s1 -= m(seed);
  if (s1 < 0) s1 += 1;
  s2 -= m(seed);
  if (s2 < 0) s2 += 1;
  const toInt = (s: number) => Math.round(s * 4294967296);
  return { carry: 1, s0: toInt(s0), s1: toInt(s1), s2: toInt(s2) };
}
