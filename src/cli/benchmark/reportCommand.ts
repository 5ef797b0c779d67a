import { type Command, Option } from 'commander';
import { loadReportInput } from '../../benchmark/report/loadReportInput.ts';
import { REPORT_FORMATS, type ReportFormat } from '../../benchmark/report/reportFormats.ts';
import { BenchmarkStore } from '../../benchmark/store.ts';
import { UserError } from '../../errors.ts';
import { positiveInteger } from '../optionParsers.ts';

interface ReportCommandOptions {
  out: string;
  format?: ReportFormat;
  overwrite: boolean;
  title?: string;
  gridPrompts: number;
  gridSeeds: number;
  thumbnail: number;
  resamples: number;
}

/** `dnb benchmark report DIR --out report.html`: the Fig. 5 chart, the table and image grids of a run. */
export function addReportCommand(benchmark: Command): Command {
  return benchmark
    .command('report')
    .description(
      'Write the report of a benchmark run: mean scores per set and method with 95% bootstrap intervals, the ' +
        'Fig. 5-style chart with the change over SD, a results table and image grids (prompts × methods, one seed).',
    )
    .argument('<dir>', 'the run folder (the --out of dnb benchmark run)')
    .requiredOption('-o, --out <file>', 'the report file (report.html, or report.md with --format md)')
    .addOption(
      new Option(
        '--format <format>',
        'html: one self-contained file; md: Markdown with the chart and images beside it ' +
          '(default: md for an --out ending in .md, else html)',
      ).choices(REPORT_FORMATS),
    )
    .option('--overwrite', 'replace the report files if they exist', false)
    .option('--title <text>', 'the report heading')
    .option('--grid-prompts <n>', 'prompts per set in the image grids', positiveInteger, 6)
    .option('--grid-seeds <n>', 'seeds per prompt in the image grids', positiveInteger, 1)
    .option('--thumbnail <px>', 'longest side of a grid image', positiveInteger, 160)
    .option('--resamples <n>', 'bootstrap resamples per interval (at least 1000)', positiveInteger, 2000)
    .action(async (dir: string, options: ReportCommandOptions) => {
      if (options.resamples < 1000) {
        throw new UserError(
          `--resamples ${options.resamples} is too few for a 95% interval; give 1000 or more`,
        );
      }
      const store = BenchmarkStore.open(dir);
      let input: ReturnType<typeof loadReportInput>;
      try {
        input = loadReportInput(store);
      } finally {
        store.close();
      }
      // Loaded here: Vega and Vega-Lite (the chart) take ~0.8 s to import, which every other command would pay.
      const { writeReport } = await import('../../benchmark/report/writeReport.ts');
      const written = await writeReport(input, options.out, {
        format: options.format,
        overwrite: options.overwrite,
        title: options.title,
        promptsPerSet: options.gridPrompts,
        seedsPerPrompt: options.gridSeeds,
        thumbnailSize: options.thumbnail,
        resamples: options.resamples,
      });
      const scored = input.entries.filter((e) => Object.keys(e.scores).length > 0).length;
      process.stderr.write(
        `Wrote ${written[0]}${written.length > 1 ? ` and ${written.length - 1} files beside it` : ''} ` +
          `(${input.entries.length} images, ${scored} scored)\n`,
      );
    });
}
