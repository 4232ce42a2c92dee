// The burst controls: a kernel, a strategy that runs it, a size, how many requests and how many
// at a time. The kernels and strategies offered are those the server's /strategies lists.

import { BURST_SLOTS, fire, type MakeRequest } from './bursts.js';
import { $, option, readInt } from './dom.js';
import { figures } from './figures.js';

interface KernelForm {
  /** The size field's label, the argument's name, and its starting value. */
  label: string;
  key: string;
  value: number;
  request(strategy: string, size: number): ReturnType<MakeRequest>;
}

/** How each kernel is asked for: its size parameter and its request. */
const kernels: Record<string, KernelForm> = {
  primes: { label: 'Limit', key: 'limit', value: 400_000_000, request: (s, n) => [`/primes/${s}?limit=${n}`] },
  pbkdf2: {
    label: 'Iterations',
    key: 'iterations',
    value: 1_000_000,
    request: (s, n) => [
      `/pbkdf2/${s}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: 'pw', salt: 'salt', iterations: n, keylen: 32 }),
      },
    ],
  },
  blur: {
    label: 'Image side (px)',
    key: 'side',
    value: 2048,
    request: (s, n) => [
      `/blur/${s}?width=${n}&height=${n}&radius=8`,
      { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: noise(n * n * 4) },
    ],
  },
  sleep: { label: 'Sleep (ms)', key: 'ms', value: 1000, request: (s, n) => [`/sleep/${s}?ms=${n}`] },
};

/**
 * Random RGBA to blur, made once per size. A Blob, because fetch copies a typed-array body on the
 * page's own thread (hundreds of ms for megabytes, stalling the probe) but hands a Blob over as is.
 */
const images = new Map<number, Blob>();
function noise(length: number): Blob {
  const made = images.get(length);
  if (made) return made;
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(length, i + 65536)));
  const blob = new Blob([bytes]);
  images.clear();
  images.set(length, blob);
  return blob;
}

const kernelSelect = () => $<HTMLSelectElement>('kernel');
const strategySelect = () => $<HTMLSelectElement>('strategy');

function onKernelChange(): void {
  const kernel = kernelSelect().value;
  const previous = strategySelect().value;
  const usable = figures.strategies.filter((s) => s.kernels.includes(kernel));
  strategySelect().replaceChildren(
    ...usable.map((s) => option(s.name, `${s.name} · ${s.blocksLoop ? 'on the loop' : 'off the loop'}`)),
  );
  if (usable.some((s) => s.name === previous)) strategySelect().value = previous;
  const spec = kernels[kernel]!;
  $('size-label').textContent = spec.label;
  $<HTMLInputElement>('size').value = String(spec.value);
  onStrategyChange();
}

function onStrategyChange(): void {
  const s = figures.strategies.find((x) => x.name === strategySelect().value);
  $('strategy-where').textContent = s ? `${s.where}.` : '';
}

function onSubmit(event: SubmitEvent): void {
  event.preventDefault();
  const kernel = kernelSelect().value;
  const strategy = strategySelect().value;
  const spec = kernels[kernel];
  if (!spec || !strategy) return;
  const size = Number($<HTMLInputElement>('size').value);
  const label = `${strategy} · ${kernel} ${spec.key}=${size}`;
  const requests = readInt('count', 1, 100);
  const concurrency = readInt('concurrency', 1, BURST_SLOTS);
  void fire(label, strategy, requests, concurrency, () => spec.request(strategy, size));
}

/** Listens to the form; it stays disabled until `enableControls`. */
export function mountControls(): void {
  kernelSelect().addEventListener('change', onKernelChange);
  strategySelect().addEventListener('change', onStrategyChange);
  $<HTMLFormElement>('burst').addEventListener('submit', onSubmit);
}

/** Offers the kernels the server's strategies run (and the page knows how to ask for), and opens the form. */
export function enableControls(): void {
  const names = [...new Set(figures.strategies.flatMap((s) => s.kernels))].filter((k) => k in kernels);
  kernelSelect().replaceChildren(...names.map((k) => option(k, k)));
  onKernelChange();
  $<HTMLFieldSetElement>('burst-fields').disabled = false;
}
