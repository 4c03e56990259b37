/** The run's table (stdout) and `bench/results/latest.json`. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import type { Figure } from './figure.js';

export interface RunReport {
  mode: 'quick' | 'full';
  startedAt: string;
  durationMs: number;
  machine: { node: string; cpus: number; loadavg: number[] };
  /** How many figures missed their target (including scenarios that did not complete). */
  missed: number;
  figures: Figure[];
}

export function buildReport(mode: RunReport['mode'], started: Date, figures: Figure[]): RunReport {
  return {
    mode,
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    machine: { node: process.version, cpus: cpus().length, loadavg: loadavg().map((l) => Math.round(l * 100) / 100) },
    missed: figures.filter((f) => !f.pass).length,
    figures,
  };
}

/** Write atomically (temp file, then rename), so a reader never sees half a file. */
export function writeReport(file: string, report: RunReport): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(tmp, file);
}

function show(n: number | null, unit = ''): string {
  if (n === null) return '—';
  const text = Math.abs(n) >= 100 ? String(Math.round(n)) : String(Math.round(n * 100) / 100);
  return unit ? `${text} ${unit}` : text;
}

/** A plain-text table, then the notes numbered under it. */
export function renderTable(report: RunReport): string {
  const header = ['scenario', 'figure', 'value', 'baseline', 'ratio', 'target', 'pass'];
  const notes: string[] = [];
  const rows = report.figures.map((f) => {
    let name = f.figure;
    if (f.notes) {
      notes.push(f.notes);
      name = `${name} [${notes.length}]`;
    }
    return [
      f.scenario,
      name,
      show(f.value, f.unit),
      show(f.baseline, f.unit),
      f.ratio === null ? '—' : `${show(f.ratio)}×`,
      f.target,
      f.pass ? 'yes' : 'MISSED',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]!].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + ' '.repeat(widths[i]! - [...c].length))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  out.push('');
  out.push(
    `${report.mode} run, ${(report.durationMs / 1000).toFixed(1)} s, node ${report.machine.node}, ${report.machine.cpus} cpus, load ${report.machine.loadavg.join(' ')}`,
  );
  if (report.mode === 'quick' && report.durationMs > 60_000) {
    out.push(
      `the quick run took longer than its 60 s budget (load average ${report.machine.loadavg[0]} on ${report.machine.cpus} cpus)`,
    );
  }
  out.push(
    report.missed === 0
      ? `all ${report.figures.length} targets met`
      : `${report.missed} of ${report.figures.length} targets MISSED`,
  );
  if (notes.length > 0) {
    out.push('', 'notes:');
    for (const [i, n] of notes.entries()) out.push(`  [${i + 1}] ${n}`);
  }
  return out.join('\n');
}
