import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { packagePath } from '../src/package-root.js';
import { fmt } from './stats.js';
import { flatten, type Summary } from './summary.js';

/**
 * Every run is compared with the last committed one (bench/results/summary.json at git's HEAD),
 * figure by figure. A change counts as real ("beyond the spread") when the two runs' ranges do
 * not overlap, for figures both runs measured more than once; when only one run has a range,
 * when the other's value lies outside it and moved by more than `tolerance`; for a figure
 * measured once in both, when it moved by more than `tolerance` (the ±20% the repeated ratios
 * are meant to hold to).
 */
export const tolerance = 0.2;

export interface Change {
  key: string;
  before: number;
  after: number;
  /** after ÷ before. */
  factor: number;
  spreadBefore?: [number, number];
  spreadAfter?: [number, number];
  flagged: boolean;
}

export function compareSummaries(before: Summary, after: Summary): Change[] {
  const old = new Map(flatten(before));
  const changes: Change[] = [];
  for (const [key, value] of flatten(after)) {
    const previous = old.get(key);
    if (previous === undefined) continue;
    const spreadBefore = before.spread?.[key];
    const spreadAfter = after.spread?.[key];
    const factor = previous === 0 ? NaN : value / previous;
    const measured = Number.isFinite(value) && Number.isFinite(previous);
    const outside = (v: number, r: [number, number] | undefined) => !r || v < r[0] || v > r[1];
    const flagged =
      measured &&
      (spreadBefore && spreadAfter
        ? spreadAfter[0] > spreadBefore[1] || spreadAfter[1] < spreadBefore[0]
        : Math.abs(factor - 1) > tolerance && outside(previous, spreadAfter) && outside(value, spreadBefore));
    changes.push({
      key,
      before: previous,
      after: value,
      factor,
      ...(spreadBefore ? { spreadBefore } : {}),
      ...(spreadAfter ? { spreadAfter } : {}),
      flagged,
    });
  }
  return changes;
}

const range = (r: [number, number] | undefined) => (r ? ` (${fmt(r[0])}–${fmt(r[1])})` : '');

/** One line per figure: before → after, the factor, the spreads, and "!" where the change is beyond them. */
export function renderChanges(changes: readonly Change[]): string[] {
  return changes.map(
    (c) =>
      `${c.flagged ? '!' : ' '} ${c.key}: ${fmt(c.before)}${range(c.spreadBefore)} → ${fmt(c.after)}` +
      `${range(c.spreadAfter)}  ×${fmt(c.factor)}`,
  );
}

/** The committed summary (git HEAD), else the one on disk, else none; and where it came from. */
export async function previousSummary(): Promise<{ summary: Summary; source: string } | undefined> {
  const file = 'bench/results/summary.json';
  try {
    const text = execFileSync('git', ['show', `HEAD:${file}`], {
      cwd: packagePath(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return { summary: JSON.parse(text) as Summary, source: `${file} at git HEAD` };
  } catch {
    try {
      return { summary: JSON.parse(await readFile(packagePath(file), 'utf8')) as Summary, source: file };
    } catch {
      return undefined;
    }
  }
}
