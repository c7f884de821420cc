/**
 * How OpenMP's idle threads wait, between the parallel regions of the addon's kernels and
 * oneDNN's: passively (asleep until woken), unless the user chose otherwise.
 *
 * libgomp's default spins a while before sleeping. On a machine where other processes are busy
 * the spinning threads take the cores that the threads they wait for (and JavaScript's) need: a
 * cnn1 training step took 200-500 ms on 2 threads that way, 26 ms with passive waiting, measured
 * side by side on a loaded 2-core host. libgomp reads the setting once, when it is loaded, so it
 * is set before the addon is.
 */
export const WAIT_POLICY_VARS = ['OMP_WAIT_POLICY', 'GOMP_SPINCOUNT'] as const;

let injected = false;

/** Sets OMP_WAIT_POLICY=passive in `env` unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT. */
export function preferPassiveWaiting(env: NodeJS.ProcessEnv = process.env): boolean {
  if (WAIT_POLICY_VARS.some((v) => env[v] !== undefined)) return false;
  env.OMP_WAIT_POLICY = 'passive';
  if (env === process.env) injected = true;
  return true;
}

/**
 * The environment as the user gave it, for child processes that are not ours to tune (the
 * PyTorch reference `bench` runs beside us keeps its own defaults).
 */
export function userEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (injected) delete env.OMP_WAIT_POLICY;
  return env;
}
