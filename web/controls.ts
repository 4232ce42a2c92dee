// The burst controls: a kernel, a strategy that runs it, a size, how many requests and how many
// at a time. The kernels and strategies offered are those the server's /strategies lists.

import { BURST_SLOTS, fire, type MakeRequest } from './bursts.js';
import { $, option, readInt } from './dom.js';
import { figures } from './figures.js';
import { getJsonWhenUp } from './net.js';

/** One row of GET /kernels: a kernel's route, read from the library's kernel table. */
interface KernelRoute {
  kernel: string;
  method: 'get' | 'post';
  args: {
    name: string;
    kind: 'integer' | 'binary' | 'pixels';
    from: 'query' | 'json' | 'body';
    default?: number;
    example?: string;
  }[];
  /** The size knob: its label, its starting value, and the integer arguments it sets. */
  burst: { label: string; value: number; sets: string[] };
}

/** The kernels the server has routes for, from GET /kernels (loaded by `loadKernels`). */
const kernels: Record<string, KernelRoute> = {};

export async function loadKernels(): Promise<void> {
  for (const route of await getJsonWhenUp<KernelRoute[]>('/kernels')) kernels[route.kernel] = route;
}

/** A request for `route` under `strategy`: the knob's arguments are `size`, the others their defaults. */
function request(route: KernelRoute, strategy: string, size: number): ReturnType<MakeRequest> {
  const value = (arg: KernelRoute['args'][number]) =>
    route.burst.sets.includes(arg.name) ? size : (arg.default ?? arg.example);
  const query = route.args
    .filter((a) => a.from === 'query')
    .map((a) => `${a.name}=${value(a)}`)
    .join('&');
  const url = `/${route.kernel}/${strategy}${query && `?${query}`}`;
  const json = route.args.filter((a) => a.from === 'json');
  if (json.length > 0) {
    const body = JSON.stringify(Object.fromEntries(json.map((a) => [a.name, value(a)])));
    return [url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }];
  }
  // A raw body is RGBA pixels: width·height·4 bytes of noise.
  if (route.args.some((a) => a.from === 'body')) {
    const side = (name: string) => Number(value(route.args.find((a) => a.name === name)!));
    return [
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: noise(side('width') * side('height') * 4),
      },
    ];
  }
  return [url];
}

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
  $('size-label').textContent = spec.burst.label;
  $<HTMLInputElement>('size').value = String(spec.burst.value);
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
  const label = `${strategy} · ${kernel} ${spec.burst.sets.join('=')}=${size}`;
  const requests = readInt('count', 1, 100);
  const concurrency = readInt('concurrency', 1, BURST_SLOTS);
  void fire(label, strategy, requests, concurrency, () => request(spec, strategy, size));
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
