import type { Server } from 'node:http';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { UserError } from '../errors.ts';
import { StableDiffusion } from '../pipeline/stableDiffusion.ts';
import { DEVICES, type Device } from '../runtime/providers.ts';
import { type BenchmarkRoutes, createBenchmarkRoutes } from '../server/benchmarkRoutes.ts';
import { createBenchmarkServer } from '../server/benchmarkServer.ts';
import { createStudioServer, listen } from '../server/studioServer.ts';
import { nonNegativeInteger, positiveInteger } from './optionParsers.ts';

interface StudioOptions {
  model?: string;
  benchmark?: string;
  port: number;
  host: string;
  cacheDir?: string;
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
      .option('-m, --model <dir|repo>', 'diffusers model folder, or Hugging Face repo id to download')
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
      .option('--threads <n>', "ONNX Runtime's intra-op threads (default: all cores)", positiveInteger)
      .option(
        '--cache-dir <dir>',
        'where compiled graphs are cached (default: $DNB_CACHE_DIR or ~/.cache/divide-and-bind)',
      )
      .addOption(
        new Option('--device <device>', 'where ONNX Runtime runs the graphs').choices(DEVICES).default('cpu'),
      )
      .action(runStudio)
  );
}

async function runStudio(options: StudioOptions): Promise<void> {
  if (options.model === undefined && options.benchmark === undefined) {
    throw new UserError('give --model MODEL to generate, --benchmark DIR to browse a benchmark run, or both');
  }
  const benchmark =
    options.benchmark === undefined
      ? undefined
      : createBenchmarkRoutes(options.benchmark, { generation: options.model !== undefined });
  let sd: StableDiffusion | undefined;
  let server: Server;
  if (options.model === undefined) {
    server = createBenchmarkServer(benchmark as BenchmarkRoutes);
  } else {
    process.stderr.write(`Loading ${options.model}…\n`);
    sd = await StableDiffusion.load(options.model, {
      cacheDir: options.cacheDir,
      threads: options.threads,
      device: options.device,
    });
    server = createStudioServer(sd, { benchmark });
  }
  const url = await listen(server, options.host, options.port);
  process.stderr.write(`Studio ready at ${url} (Ctrl+C to stop)\n`);
  if (benchmark) process.stderr.write(`Benchmark ${benchmark.dir}: ${url}benchmarks.html\n`);
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
