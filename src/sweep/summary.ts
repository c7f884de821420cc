/**
 * A sweep's summary: every run, then per configuration the mean ± std over its seeds of test and
 * validation accuracy and minutes, each beside its model's baseline (the model's first
 * configuration: the first value of every grid setting).
 */
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { percent } from '../util/format.js';
import type { ConfigSummary, JobStatus, MeanStd, SweepSummary } from './records.js';
import { jobStatus, readSweep, SWEEP_FILE, SWEEP_MARKDOWN, writeSweepFile, type SweepRecord } from './store.js';

export type { ConfigSummary, MeanStd, SweepSummary } from './records.js';

export function meanStd(values: readonly number[]): MeanStd | null {
  if (values.length === 0) return null;
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance), n: values.length };
}

const finite = (xs: (number | null)[]) => xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));

/** The summary of jobs as they stand. */
export function summarize(record: SweepRecord, dir: string, jobs: JobStatus[]): SweepSummary {
  const configs: ConfigSummary[] = [];
  const baselineOf = new Map<string, string>();
  for (const job of record.jobs) {
    if (!baselineOf.has(job.model)) baselineOf.set(job.model, job.config);
    if (configs.some((c) => c.config === job.config)) continue;
    const mine = jobs.filter((j) => j.config === job.config);
    const done = mine.filter((j) => j.state === 'done');
    configs.push({
      config: job.config,
      model: job.model,
      settings: job.settings,
      baseline: baselineOf.get(job.model)!,
      done: done.length,
      total: mine.length,
      testAcc: meanStd(finite(done.map((j) => j.testAcc))),
      valAcc: meanStd(finite(done.map((j) => j.valAcc))),
      minutes: meanStd(done.map((j) => j.minutes)),
    });
  }
  const counts = { pending: 0, running: 0, done: 0, failed: 0 };
  for (const j of jobs) counts[j.state]++;
  return { name: record.name, dir, createdAt: record.createdAt, definition: record.definition, jobs, configs, counts };
}

/** Reads every job's run and summarises the sweep in `dir` (null when no sweep is recorded there). */
export async function sweepSummary(dir: string, running?: ReadonlySet<string>, failed?: ReadonlyMap<string, string>): Promise<SweepSummary | null> {
  const record = await readSweep(dir);
  if (!record) return null;
  const jobs = await Promise.all(record.jobs.map((j) => jobStatus(dir, j, running, failed)));
  return summarize(record, dir, jobs);
}

const pm = (m: MeanStd | null, fmt: (x: number) => string) => (m ? `${fmt(m.mean)} ± ${fmt(m.std)}` : '—');
const points = (x: number) => `${(x * 100).toFixed(2)}`;
const delta = (a: MeanStd | null, b: MeanStd | null) => (a && b ? `${a.mean >= b.mean ? '+' : ''}${((a.mean - b.mean) * 100).toFixed(2)}` : '—');

export function renderMarkdown(s: SweepSummary): string {
  const out: string[] = [`# Sweep ${s.name}`, ''];
  const d = s.definition;
  out.push(`Models ${d.models.join(', ')}; seeds ${d.seeds.join(', ')}; grid ${d.grid.map(([k, v]) => `${k}=${v.join(',')}`).join(' ') || '(none)'}; flags ${d.flags.join(' ') || '(none)'}.`);
  out.push(`Started ${s.createdAt}; ${s.counts.done} of ${s.jobs.length} runs done${s.counts.failed ? `, ${s.counts.failed} failed` : ''}${s.counts.running ? `, ${s.counts.running} running` : ''}.`, '');
  out.push('## Per configuration (mean ± std over the seeds that finished)', '');
  out.push('| configuration | runs | test accuracy % | vs baseline | validation accuracy % | vs baseline | minutes |', '|---|---|---|---|---|---|---|');
  for (const c of s.configs) {
    const base = s.configs.find((b) => b.config === c.baseline)!;
    const isBase = c.config === c.baseline;
    out.push(`| ${c.config}${isBase ? ' (baseline)' : ''} | ${c.done}/${c.total} | ${pm(c.testAcc, points)} | ${isBase ? '' : delta(c.testAcc, base.testAcc)} | ${pm(c.valAcc, points)} | ${isBase ? '' : delta(c.valAcc, base.valAcc)} | ${pm(c.minutes, (x) => x.toFixed(2))} |`);
  }
  out.push('', '## Every run', '', '| run | model | seed | settings | state | epochs | validation accuracy | test accuracy | minutes |', '|---|---|---|---|---|---|---|---|---|');
  for (const j of s.jobs) {
    const settings = Object.entries(j.settings).map(([k, v]) => `${k}=${v}`).join(' ') || '—';
    out.push(`| ${j.id} | ${j.model} | ${j.seed} | ${settings} | ${j.state}${j.error ? `: ${j.error.replace(/\|/g, '\\|')}` : ''} | ${j.epochs}/${j.plannedEpochs} | ${percent(j.valAcc)} | ${percent(j.testAcc)} | ${j.minutes.toFixed(2)} |`);
  }
  return out.join('\n') + '\n';
}

/**
 * Writes the summary: sweep.json (the record, with `summary`: every run, per configuration, counts)
 * and sweep.md, each atomically.
 */
export async function writeSummary(record: SweepRecord, s: SweepSummary): Promise<{ markdown: string; json: string }> {
  const markdown = path.join(s.dir, SWEEP_MARKDOWN);
  const json = path.join(s.dir, SWEEP_FILE);
  await writeSweepFile(s.dir, { ...record, summary: { counts: s.counts, configs: s.configs, runs: s.jobs } });
  await writeFileAtomic(markdown, renderMarkdown(s));
  return { markdown, json };
}
