/** Wall-clock and CPU time of a stage (CPU time matters on a shared machine, where wall time lies). */
import type { StageTime } from './types.js';

export async function timed<T>(into: Record<string, StageTime>, stage: string, fn: () => T | Promise<T>): Promise<T> {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  try {
    return await fn();
  } finally {
    const used = process.cpuUsage(cpu);
    into[stage] = {
      seconds: round3((performance.now() - wall) / 1000),
      cpuSeconds: round3((used.user + used.system) / 1e6),
    };
  }
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
