// The page's elements: lookup by id, figures shown with their level, form values read safely.

import { level } from './format.js';

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Shows a figure; with `ms`, coloured by how long that is for the loop. */
export function setStat(id: string, text: string, ms?: number): void {
  const el = $(id);
  el.textContent = text;
  el.className = ms === undefined ? '' : level(ms);
}

export function option(value: string, text: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

/** A number input's value as an integer clamped to [min, max] (min when it is not a number). */
export function readInt(id: string, min: number, max: number): number {
  const value = Math.round(Number($<HTMLInputElement>(id).value));
  return Math.min(max, Math.max(min, Number.isFinite(value) ? value : min));
}
