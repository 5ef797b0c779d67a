/** What the studio's Benchmarks view asks the server for, and what it gets back (JSON). */
import type { ReportSet } from '../benchmark/report/reportInput.ts';
import type { TableRow } from '../benchmark/report/resultsTable.ts';
import type { JobTimings, StoreStatus, TraceStepSummary } from '../benchmark/store.ts';

/** GET /api/benchmark/status: which run the studio shows and how far it is. */
export interface BenchmarkStatus {
  dir: string;
  model: string;
  status: StoreStatus;
  /** Whether the studio's generation page is there too (a model is loaded). */
  generation: boolean;
}

/** GET /api/benchmark?prompts=N&seeds=K: the report of the run, with grid images by job id. */
export interface BenchmarkView {
  dir: string;
  model: string;
  status: StoreStatus;
  sets: ReportSet[];
  methods: { name: string; label: string }[];
  metrics: { name: string; label: string; description: string }[];
  /** The Fig. 5-style chart, as the HTML report has it. */
  chartSvg: string;
  table: TableRow[];
  grids: {
    set: string;
    label: string;
    rows: { promptId: string; prompt: string; seed: string; jobIds: (number | null)[] }[];
  }[];
}

/** GET /api/benchmark/jobs/ID: one image's parameters (its PNG's `dnb` chunk), trace summary and scores. */
export interface BenchmarkJobDetail {
  jobId: number;
  set: string;
  promptId: string;
  prompt: string;
  method: string;
  seed: string;
  /** GET /api/benchmark/images/ID (add ?size=N for a thumbnail). */
  imageUrl: string;
  imagePath: string;
  /** The `dnb` JSON of the PNG: everything `dnb generate` needs to repeat it; null if the PNG has none. */
  parameters: Record<string, unknown> | null;
  /** The A1111-style `parameters` text of the PNG. */
  parametersText: string | null;
  timings: JobTimings;
  /** Per guided loop index; null for plain SD. */
  traceSummary: readonly TraceStepSummary[] | null;
  worker: string;
  createdAt: string;
  scores: { metric: string; label: string; value: number; detail: unknown }[];
}
