// The strategies table: GET /strategies as rows, and each scrape's admission gates in them.

import { $ } from './dom.js';
import { figures, type Scrape, type StrategyInfo } from './figures.js';
import { getJsonWhenUp } from './net.js';

/** Reads the server's strategy table into the figures, waiting for the server if need be. */
export async function loadStrategies(): Promise<void> {
  figures.strategies = await getJsonWhenUp<StrategyInfo[]>('/strategies');
}

export function renderStrategies(): void {
  const body = $('strategies').querySelector('tbody')!;
  body.replaceChildren(...figures.strategies.map(strategyRow));
}

function strategyRow(s: StrategyInfo): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.dataset.strategy = s.name;
  const gate = s.blocksLoop ? '—' : '0';
  const cells = [s.name, s.where, s.blocksLoop ? 'blocks' : 'free', gate, gate];
  row.replaceChildren(
    ...cells.map((text, i) => {
      const cell = document.createElement(i === 0 ? 'th' : 'td');
      if (i === 0) cell.setAttribute('scope', 'row');
      cell.textContent = text;
      if (i === 2) cell.className = s.blocksLoop ? 'bad' : 'good';
      if (i >= 3) cell.className = 'num';
      return cell;
    }),
  );
  return row;
}

/** Fills in each gated strategy's in-flight and queued counts from a scrape. */
export function renderGates(s: Scrape): void {
  for (const row of $('strategies').querySelectorAll<HTMLTableRowElement>('tbody tr')) {
    const name = row.dataset.strategy!;
    if (!(name in s.inflight)) continue;
    row.cells[3]!.textContent = String(s.inflight[name] ?? 0);
    row.cells[4]!.textContent = String(s.queued[name] ?? 0);
    row.classList.toggle('busy', (s.inflight[name] ?? 0) + (s.queued[name] ?? 0) > 0);
  }
}
