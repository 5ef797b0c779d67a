/** The report formats (`--format`), apart from the writers, so the command line can list them without loading Vega. */
export const REPORT_FORMATS = ['html', 'md'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
