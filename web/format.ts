// How durations read on the page.

export const fmtMs = (ms: number) =>
  ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;

/** An axis label: as short as the value allows. */
export const fmtTick = (ms: number) => (ms >= 1000 ? `${+(ms / 1000).toFixed(2)} s` : `${+ms.toFixed(1)} ms`);

/** How a wait of `ms` feels: good, noticeable, or bad. */
export const level = (ms: number) => (ms < 50 ? 'good' : ms < 200 ? 'warn' : 'bad');
