/**
 * Writes a report file (and, for Markdown, its side files) without touching anything the user already has
 * unless asked: every path is checked before the first byte is written, and each file is written atomically.
 */
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { UserError } from '../../errors.ts';
import { writeFileAtomically } from '../../weights/atomicFile.ts';
import { htmlReport } from './htmlReport.ts';
import { markdownReport } from './markdownReport.ts';
import { type ReportOptions, reportContent } from './reportContent.ts';
import type { ReportFormat } from './reportFormats.ts';
import type { ReportInput } from './reportInput.ts';

export { REPORT_FORMATS, type ReportFormat } from './reportFormats.ts';

export interface WriteReportOptions extends ReportOptions {
  /** Default: from the output's extension (.md → md), else html. */
  format?: ReportFormat;
  overwrite?: boolean;
}

/** The format `--format` would default to for this output path. */
export function reportFormatOf(out: string, format?: ReportFormat): ReportFormat {
  return format ?? (extname(out).toLowerCase() === '.md' ? 'md' : 'html');
}

/** Writes the report to `out`; returns every file written. */
export async function writeReport(
  input: ReportInput,
  out: string,
  options: WriteReportOptions = {},
): Promise<string[]> {
  const format = reportFormatOf(out, options.format);
  const folder = dirname(out);
  if (!(await stat(folder).catch(() => undefined))?.isDirectory()) {
    throw new UserError(`cannot write ${out}: folder ${folder} does not exist`);
  }
  const content = await reportContent(input, options);
  const files = new Map<string, Uint8Array | string>();
  if (format === 'html') {
    files.set(out, await htmlReport(content));
  } else {
    const base = basename(out, extname(out));
    const { markdown, files: sideFiles } = await markdownReport(content, base);
    files.set(out, markdown);
    for (const [relative, bytes] of sideFiles) files.set(join(folder, relative), bytes);
  }
  if (!options.overwrite) {
    for (const path of files.keys()) {
      if (await stat(path).catch(() => undefined)) {
        throw new UserError(`${path} already exists; choose another --out or pass --overwrite to replace it`);
      }
    }
  }
  for (const [path, bytes] of files) {
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomically(path, (handle) => handle.writeFile(bytes), { overwrite: options.overwrite });
  }
  return [...files.keys()];
}
