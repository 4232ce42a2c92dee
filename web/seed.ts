// The three pings of the note offloop started from, and the database they query.

import { fire } from './bursts.js';
import { $, readInt } from './dom.js';
import { getJsonWhenUp } from './net.js';

/** Each seed route, with the strategy whose loop behaviour it shares (for the log and the chart). */
const seedRoutes: Record<string, string> = {
  '/terrible-ping': 'blocking',
  '/good-ping': 'worker',
  '/perfect-ping': 'builtin',
};

/** What GET /health says about the database, when the server has one. */
export interface DatabaseInfo {
  kind: string;
  name: string;
}

const databaseKinds: Record<string, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

function onSeed(route: string): void {
  const ms = readInt('seed-ms', 0, 60_000);
  const strategy = seedRoutes[route] ?? 'blocking';
  void fire(`${route}?ms=${ms}`, strategy, 1, 1, () => [`${route}?ms=${ms}`]);
}

export function mountSeed(): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-seed]')) {
    button.addEventListener('click', () => onSeed(button.dataset.seed!));
  }
}

/** The database as /health names it, or null when it names none (a server without one). */
export async function loadDatabase(): Promise<DatabaseInfo | null> {
  const health = await getJsonWhenUp<{ database?: Partial<DatabaseInfo> }>('/health');
  const { kind, name } = health.database ?? {};
  return typeof kind === 'string' && typeof name === 'string' ? { kind, name } : null;
}

/** Names the database in the seed panel: its kind and its file or URL; "—" when there is none. */
export function showDatabase(database: DatabaseInfo | null): void {
  const el = $('seed-database');
  el.textContent = database ? `${databaseKinds[database.kind] ?? database.kind} · ${database.name}` : '—';
  el.title = database ? `GET /health: ${database.kind} ${database.name}` : 'GET /health names no database';
}
