export const BACKEND_NAMES = ['native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendInfo {
  /** The TF.js backend in use. */
  name: BackendName;
  /** One human line: what computes, e.g. "wasm (SIMD, 1 thread)" or "native (oneDNN 2.6.3, 2 threads)". */
  description: string;
  /** Threads its kernels run on (1 when not given). */
  threads?: number;
  /** Set when the requested or preferred backend could not be used, and why. */
  fallbackReason?: string;
}
