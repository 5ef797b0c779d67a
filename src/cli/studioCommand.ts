import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { UserError } from '../errors.ts';
import { StableDiffusion } from '../pipeline/stableDiffusion.ts';
import { DEVICES, type Device, setRuntimeLogging } from '../runtime/providers.ts';
import { type AccessOptions, guardAccess } from '../server/accessGuard.ts';
import type { BenchmarkRoutes } from '../server/benchmarkRoutes.ts';
import { createStudioHandler, listen, modelLoadingHandler } from '../server/studioServer.ts';
import { nonNegativeInteger, positiveInteger } from './optionParsers.ts';

interface StudioOptions {
  model?: string;
  benchmark?: string;
  port: number;
  host: string;
  /** A string, or true for `--token` alone (a generated one). */
  token?: string | true;
  cacheDir?: string;
  configFrom?: string;
  keepWarm: number;
  threads?: number;
  device: Device;
}

function port(text: string): number {
  const value = nonNegativeInteger(text);
  if (value > 65535) throw new InvalidArgumentError('expected a port from 0 to 65535.');
  return value;
}

export function addStudioCommand(program: Command): Command {
  return (
    program
      .command('studio')
      .description(
        'Start the web studio: generate with plain SD, Attend & Excite and Divide & Bind side by side from one ' +
          "seed, and watch each object token's attention map and the losses over the steps.",
      )
      .option(
        '-m, --model <dir|repo|file>',
        'diffusers model folder (SD 1.x/2.x, SDXL), Hugging Face repo id, or single-file .safetensors checkpoint',
      )
      .option(
        '--config-from <dir|repo>',
        "a single-file checkpoint's configs and tokenizers (default: its base model)",
      )
      .option(
        '--benchmark <dir>',
        'also show this benchmark run (chart, table, image grids); without --model, only that view',
      )
      .option('--port <n>', 'port to listen on (0: any free port)', port, 7860)
      // Loopback by default: anyone who can reach the studio can keep the machine busy generating.
      .option(
        '--host <address>',
        'address to listen on; 0.0.0.0 exposes the studio to the network',
        '127.0.0.1',
      )
      .option(
        '--token [token]',
        'API calls need this token (the page gets it from the address printed at start); required with a ' +
          '--host other than loopback; alone, a random one is generated',
      )
      .option(
        '--keep-warm <n>',
        'guidance graphs kept open between generations, so the next starts at once (each holds a UNet; 0: none)',
        nonNegativeInteger,
        2,
      )
      .option('--threads <n>', "ONNX Runtime's intra-op threads (default: all cores)", positiveInteger)
      .option(
        '--cache-dir <dir>',
        'where compiled graphs are cached (default: $DNB_CACHE_DIR or ~/.cache/divide-and-bind)',
      )
      .addOption(
        new Option('--device <device>', 'where ONNX Runtime runs the graphs').choices(DEVICES).default('cpu'),
      )
      .option('--verbose', "show ONNX Runtime's own warnings and errors (quiet by default)")
      .on('option:verbose', () => setRuntimeLogging(true))
      .action(runStudio)
  );
}

/** Loopback addresses and names: only this machine can connect. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The token API calls need, or undefined when none is asked for (loopback only). */
function studioToken(options: StudioOptions): string | undefined {
  if (options.token === true) return randomBytes(18).toString('base64url');
  if (options.token !== undefined) {
    if (options.token.length < 8) throw new UserError('--token must be at least 8 characters long');
    return options.token;
  }
  if (!isLoopback(options.host)) {
    throw new UserError(
      `--host ${options.host} lets other machines reach the studio, and anyone who reaches it can generate ` +
        'and read its results: give --token TOKEN (or --token alone for a generated one), or keep the ' +
        'default --host 127.0.0.1',
    );
  }
  return undefined;
}

/**
 * The benchmark views of `--benchmark DIR`, imported only then: their report code loads Vega and Vega-Lite
 * (~0.8 s), which a studio without them would pay at every start.
 */
async function openBenchmarkViews(
  dir: string,
  generation: boolean,
): Promise<{ routes: BenchmarkRoutes; server: (access: AccessOptions) => Server }> {
  const [{ createBenchmarkRoutes }, { createBenchmarkServer }] = await Promise.all([
    import('../server/benchmarkRoutes.ts'),
    import('../server/benchmarkServer.ts'),
  ]);
  const routes = createBenchmarkRoutes(dir, { generation });
  return { routes, server: (access) => createBenchmarkServer(routes, access) };
}

async function runStudio(options: StudioOptions): Promise<void> {
  if (options.model === undefined && options.benchmark === undefined) {
    throw new UserError('give --model MODEL to generate, --benchmark DIR to browse a benchmark run, or both');
  }
  const token = studioToken(options);
  const access = { host: options.host, token };
  const views =
    options.benchmark === undefined
      ? undefined
      : await openBenchmarkViews(options.benchmark, options.model !== undefined);
  const benchmark = views?.routes;
  // The port is bound before the model loads: a port in use fails at once, not after the loading.
  let handler: RequestListener = modelLoadingHandler;
  const server =
    options.model === undefined
      ? views!.server(access)
      : createServer(guardAccess((request, response) => handler(request, response), access));
  let url: string;
  try {
    url = await listen(server, options.host, options.port);
  } catch (error) {
    benchmark?.close();
    throw error;
  }
  const tokenQuery = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
  let sd: StableDiffusion | undefined;
  if (options.model !== undefined) {
    process.stderr.write(`Listening at ${url}; loading ${options.model}…\n`);
    try {
      sd = await StableDiffusion.load(options.model, {
        configFrom: options.configFrom,
        keepWarm: options.keepWarm,
        cacheDir: options.cacheDir,
        threads: options.threads,
        device: options.device,
      });
    } catch (error) {
      server.closeAllConnections();
      server.close();
      benchmark?.close();
      throw error;
    }
    handler = createStudioHandler(sd, { benchmark });
  }
  process.stderr.write(`Studio ready at ${url}${tokenQuery} (Ctrl+C to stop)\n`);
  if (token !== undefined && options.token === true) {
    process.stderr.write(`API calls need the token ${token} (the address above passes it to the page)\n`);
  }
  if (benchmark) process.stderr.write(`Benchmark ${benchmark.dir}: ${url}benchmarks.html${tokenQuery}\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  process.stderr.write('Stopping the studio…\n');
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
  benchmark?.close();
  await sd?.release();
}
