import type { BackendInfo } from '../types.js';

export type NativeInit = { ok: true; info: BackendInfo } | { ok: false; reason: string };

/** Placeholder until the native addon lands: reports that it is not built. */
export async function initNativeBackend(): Promise<NativeInit> {
  return { ok: false, reason: 'the native addon is not part of this build yet' };
}
