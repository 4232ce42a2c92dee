import { defineAsync, defineSync } from './define.js';
import { type AddonName, type NativeBinding, loadAddon } from './addon.js';
import type { Engine } from './types.js';

export interface NativeEngine extends Engine {
  readonly name: AddonName;
  /** Which SHA-256 compression the addon chose: the x86 SHA extensions or the portable code. */
  readonly shaBackend: 'sha-ni' | 'portable';
}

type AnyNative = (...args: unknown[]) => never;

/** The addons take bytes only: strings (pbkdf2's password and salt) are encoded here. */
const bytes = (args: readonly unknown[]) => args.map((arg) => (typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg));

/**
 * An engine over one addon, loaded on first use. The Promise forms run as native async work on
 * libuv's threadpool; an abort cancels the work if it is still queued, or sets the flag that the
 * running kernel polls.
 */
export function nativeEngine(name: AddonName): NativeEngine {
  let addon: NativeBinding | undefined;
  const binding = () => (addon ??= loadAddon(name));
  return {
    name,
    get shaBackend() {
      return binding().shaBackend;
    },
    ...defineSync((kernel, args) => (binding()[`${kernel}Sync`] as AnyNative)(...bytes(args))),
    ...defineAsync({
      run(task, args, signal) {
        const b = binding();
        const start = b[task] as AnyNative;
        if (signal === undefined) return start(...bytes(args));
        const token = b.createCancelToken();
        const onAbort = () => b.cancel(token);
        signal.addEventListener('abort', onAbort, { once: true });
        return (start(...bytes(args), token) as Promise<never>).finally(() => signal.removeEventListener('abort', onAbort));
      },
    }),
  };
}
