import type { Command } from 'commander';
import { addBackendOption, type CommonFlags } from '../common.js';
import { commaList, positiveInt } from '../options.js';
import { DEFAULT_SERVE_CONFIG as D, resolveServeConfig } from '../../serve/config.js';

const MB = 1024 * 1024;

interface ServeFlags extends Pick<CommonFlags, 'backend' | 'dataDir'> {
  runs: string;
  port: number;
  host: string;
  allowHost?: string[];
  token?: string;
  readOnly?: boolean;
  defaultModel?: string;
  ensemble?: string[];
  maxUploadMb: number;
  requestTimeout: number;
  log?: boolean;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('the web dashboard and HTTP API: runs, live training, curves, confusion, projector, classify a photo')
    .option('--runs <dir>', 'the folder of runs to show and train into', D.runsDir)
    .option('--port <n>', 'TCP port (0: any free port)', (v) => (v === '0' ? 0 : positiveInt(v)), D.port)
    .option('--host <addr>', 'address to bind (127.0.0.1: this machine only; 0.0.0.0: every interface, which prints a warning)', D.host)
    .option('--allow-host <name>', 'a name clients reach the server by, besides loopback ones and --host (the Host header is checked against them: DNS rebinding); repeatable', collect)
    .option('--token <token>', "what routes that change anything (training) need as 'Authorization: Bearer TOKEN' (default: $FASHION_CNN_TOKEN, else a random one printed at start; '' turns the check off, loopback only). Other users can see a flag in ps: prefer the variable")
    .option('--read-only', 'no training routes: the dashboard, the runs and classification only (for a server others reach)')
    .option('--default-model <run-dir>', 'the run whose model POST /api/predict uses (default: the package\'s models/default)')
    .option('--ensemble <runs>', 'POST /api/predict (and the dashboard\'s classifier) uses several runs together instead of the default model: comma-separated run directories or folders of runs, their probabilities averaged; slower by the number of runs', commaList)
    .option('--max-upload-mb <n>', 'largest upload accepted, MB', positiveInt, D.maxUploadBytes / MB)
    .option('--request-timeout <seconds>', 'a request (its body included: slow clients) must arrive within this', positiveInt, D.requestTimeoutMs / 1000)
    .option('--data-dir <dir>', 'Fashion-MNIST folder for training and projections')
    .option('--log', 'log every request (JSON lines on stdout)');
  addBackendOption(cmd).action(async (f: ServeFlags) => {
    const log = (line: string) => process.stderr.write(`fashion-cnn serve: ${line}\n`);
    if (f.ensemble && f.defaultModel) cmd.error('error: give --default-model or --ensemble, not both', { exitCode: 2 });
    // Settings that cannot work are refused before the server's stage (Fastify, TF.js, sharp) is loaded.
    const config = resolveServeConfig({
      runsDir: f.runs,
      port: f.port,
      host: f.host,
      allowHosts: f.allowHost ?? [],
      ...(f.token !== undefined ? { token: f.token } : {}),
      readOnly: f.readOnly ?? false,
      ...(f.defaultModel ? { defaultModelDir: f.defaultModel } : {}),
      maxUploadBytes: f.maxUploadMb * MB,
      requestTimeoutMs: f.requestTimeout * 1000,
      dataDir: f.dataDir,
      backend: f.backend,
      logRequests: f.log ?? false,
    });
    // The members are found before the server starts: a mistyped run fails now, not at the first upload.
    const ensemble = f.ensemble ? await (await import('../../runs/ensemble.js')).ensembleRunDirs(f.ensemble, log) : [];
    const { startServer } = await import('../../serve/index.js');
    const { url, loginUrl, warnings, closed } = await startServer({ ...config, defaultEnsemble: ensemble }, log);
    log(`listening on ${url} (runs: ${f.runs})`);
    if (loginUrl) log(`open ${loginUrl} for the dashboard, logged in (training needs this token; API clients send it as Authorization: Bearer TOKEN)`);
    for (const w of warnings) log(w);
    await closed;
  });
}
