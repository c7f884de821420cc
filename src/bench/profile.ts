/**
 * `bench --profile`: where a native training step's time goes, per TF.js kernel, from the native
 * backend's own kernel accounting (src/backend/native/context.ts: runs, wasm hand-overs and
 * exclusive time of each kernel, deferred fills apart) over the timed training steps.
 */
import type { KernelRuns } from '../backend/index.js';

export interface KernelProfileRow {
  kernel: string;
  runsPerStep: number;
  msPerStep: number;
  /** Runs per step the wasm backend computed. */
  wasmPerStep: number;
}

export interface KernelProfile {
  steps: number;
  /** Mean wall time of a timed step, ms (the kernels' times add up to less: the rest is TF.js's JavaScript). */
  stepMs: number;
  kernels: KernelProfileRow[];
}

/** What ran between two snapshots of the kernel accounting, per step, the slowest first. */
export function kernelProfile(before: ReadonlyMap<string, KernelRuns>, after: ReadonlyMap<string, KernelRuns>, steps: number, stepMs: number): KernelProfile {
  if (!(steps > 0)) throw new Error(`a profile needs at least one step, got ${steps}`);
  const kernels: KernelProfileRow[] = [];
  for (const [kernel, a] of after) {
    const b = before.get(kernel) ?? { runs: 0, wasm: 0, ms: 0 };
    if (a.runs === b.runs) continue;
    kernels.push({ kernel, runsPerStep: (a.runs - b.runs) / steps, msPerStep: (a.ms - b.ms) / steps, wasmPerStep: (a.wasm - b.wasm) / steps });
  }
  kernels.sort((x, y) => y.msPerStep - x.msPerStep || x.kernel.localeCompare(y.kernel));
  return { steps, stepMs, kernels };
}

/** The profile as a Markdown table: the `top` slowest kernels, then the rest and the time outside kernels. */
export function profileMarkdown(title: string, p: KernelProfile, top = 20): string {
  const inKernels = p.kernels.reduce((s, k) => s + k.msPerStep, 0);
  const pct = (ms: number) => `${((100 * ms) / p.stepMs).toFixed(1)}%`;
  const lines = [`${title}: ${p.stepMs.toFixed(1)} ms per step (mean of ${p.steps}); kernels ${inKernels.toFixed(1)} ms`, '', '| kernel | runs/step | ms/step | share | on wasm |', '|---|---|---|---|---|'];
  for (const k of p.kernels.slice(0, top)) lines.push(`| ${k.kernel} | ${k.runsPerStep} | ${k.msPerStep.toFixed(2)} | ${pct(k.msPerStep)} | ${k.wasmPerStep || ''} |`);
  const rest = p.kernels.slice(top);
  if (rest.length) {
    const ms = rest.reduce((s, k) => s + k.msPerStep, 0);
    lines.push(`| ${rest.length} other kernels | ${rest.reduce((s, k) => s + k.runsPerStep, 0)} | ${ms.toFixed(2)} | ${pct(ms)} | ${rest.reduce((s, k) => s + k.wasmPerStep, 0) || ''} |`);
  }
  const outside = Math.max(0, p.stepMs - inKernels);
  lines.push(`| outside kernels (TF.js, tape, JavaScript) | | ${outside.toFixed(2)} | ${pct(outside)} | |`);
  return lines.join('\n');
}
