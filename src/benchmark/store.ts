/**
 * The store of a benchmark run: one SQLite file, DIR/benchmark.db, beside the images. It holds the run's
 * settings, its prompts, one row per (prompt, method, seed) job, the results, the TIFA questions and the
 * scores. The runner (or the queue coordinator) is its only writer of jobs and results; scoring adds scores.
 *
 * WAL mode with synchronous=NORMAL: a committed transaction survives the process being killed at any moment
 * (only a power cut can lose the last ones, and then the images on disk are adopted again on resume).
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { UserError } from '../errors.ts';
import type { Method } from '../pipeline/request.ts';
import type { JobKey } from './jobs.ts';
import type { BenchmarkPrompt, TifaQuestion } from './promptSet.ts';
import type { BenchmarkSettings } from './runSettings.ts';
import { canonicalJson, firstDifference, settingsFingerprint } from './runSettings.ts';

export const STORE_FILE = 'benchmark.db';
/** The layout version: a store made by another layout is refused rather than misread. */
export const STORE_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS run (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  settings TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  created_at TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS prompts (
  set_name TEXT NOT NULL,
  prompt_id TEXT NOT NULL,
  text TEXT NOT NULL,
  structure TEXT NOT NULL,
  PRIMARY KEY (set_name, prompt_id)
);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY,
  set_name TEXT NOT NULL,
  prompt_id TEXT NOT NULL,
  method TEXT NOT NULL,
  seed INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL,
  UNIQUE (set_name, prompt_id, method, seed),
  FOREIGN KEY (set_name, prompt_id) REFERENCES prompts (set_name, prompt_id)
);
CREATE TABLE IF NOT EXISTS results (
  job_id INTEGER NOT NULL UNIQUE REFERENCES jobs (id),
  image_path TEXT NOT NULL UNIQUE,
  seed INTEGER NOT NULL,
  timings TEXT NOT NULL,
  trace_summary TEXT,
  worker TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS questions (
  id INTEGER PRIMARY KEY,
  set_name TEXT NOT NULL,
  prompt_id TEXT NOT NULL,
  question TEXT NOT NULL,
  choices TEXT NOT NULL,
  answer TEXT NOT NULL,
  category TEXT,
  element TEXT,
  UNIQUE (set_name, prompt_id, question)
);
CREATE TABLE IF NOT EXISTS scores (
  job_id INTEGER NOT NULL REFERENCES jobs (id),
  metric TEXT NOT NULL,
  value REAL NOT NULL,
  detail TEXT,
  PRIMARY KEY (job_id, metric)
);
`;

export type JobStatus = 'pending' | 'done' | 'failed';

export interface JobRow extends JobKey {
  readonly id: number;
  readonly status: JobStatus;
  readonly error: string | null;
  readonly attempts: number;
  readonly updatedAt: string;
}

/** Milliseconds: the whole job and its phases (denoise, decode, encode …). */
export interface JobTimings {
  readonly totalMs: number;
  readonly phases: Readonly<Record<string, number>>;
}

/** One guided loop index, as the store keeps it. */
export interface TraceStepSummary {
  readonly loopIndex: number;
  readonly loss: number;
  readonly indicator: number;
  readonly refinementIterations: number;
  readonly capHit: boolean;
}

export interface JobResult {
  /** Relative to the run's folder: images/SET/METHOD/PROMPT_ID/SEED.png. */
  readonly imagePath: string;
  readonly timings: JobTimings;
  /** Null for plain SD. */
  readonly traceSummary: readonly TraceStepSummary[] | null;
  /** Which process made the image ("host:pid"). */
  readonly worker: string;
}

export interface ResultRow extends JobRow, JobResult {
  readonly jobId: number;
  readonly createdAt: string;
}

export interface StoreStatus {
  readonly expected: number;
  readonly done: number;
  readonly failed: number;
  readonly pending: number;
  /** (prompt, method, seed) triples stored more than once; the constraints keep it 0. */
  readonly duplicates: number;
}

export interface StoredRun {
  readonly settings: BenchmarkSettings;
  readonly fingerprint: string;
  readonly createdAt: string;
  readonly version: number;
}

export interface ScoreRow {
  readonly jobId: number;
  readonly metric: string;
  readonly value: number;
  readonly detail: unknown;
}

export interface JobFilter {
  status?: JobStatus;
  method?: Method;
  setName?: string;
}

interface RawJob {
  id: number;
  set_name: string;
  prompt_id: string;
  method: Method;
  seed: number;
  status: JobStatus;
  error: string | null;
  attempts: number;
  updated_at: string;
}

const now = () => new Date().toISOString();

function jobOf(row: RawJob): JobRow {
  return {
    id: row.id,
    setName: row.set_name,
    promptId: row.prompt_id,
    method: row.method,
    seed: row.seed,
    status: row.status,
    error: row.error,
    attempts: row.attempts,
    updatedAt: row.updated_at,
  };
}

export class BenchmarkStore {
  private constructor(
    readonly dir: string,
    private readonly db: Database.Database,
  ) {}

  /**
   * Opens DIR/benchmark.db. With `create`, makes the folder and the file when missing; without it, a folder
   * without a store is an error.
   */
  static open(dir: string, options: { create?: boolean } = {}): BenchmarkStore {
    const kind = statSync(dir, { throwIfNoEntry: false });
    if (kind && !kind.isDirectory()) {
      throw new UserError(`${dir} is a file, not a folder; give --out a folder for the benchmark run`);
    }
    const path = join(dir, STORE_FILE);
    if (!options.create && !statSync(path, { throwIfNoEntry: false })?.isFile()) {
      throw new UserError(
        `${dir} holds no ${STORE_FILE}: start a run there with dnb benchmark run --out ${dir}`,
      );
    }
    mkdirSync(dir, { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
    } catch (error) {
      throw new UserError(`cannot open ${path} as a benchmark store: ${(error as Error).message}`);
    }
    return new BenchmarkStore(dir, db);
  }

  close(): void {
    this.db.close();
  }

  /** The run's settings, or null in a new store. */
  run(): StoredRun | null {
    const row = this.db.prepare('SELECT settings, fingerprint, created_at, version FROM run').get() as
      | { settings: string; fingerprint: string; created_at: string; version: number }
      | undefined;
    if (!row) return null;
    return {
      settings: JSON.parse(row.settings),
      fingerprint: row.fingerprint,
      createdAt: row.created_at,
      version: row.version,
    };
  }

  /** The run's settings (the store must have been initialised). */
  settings(): BenchmarkSettings {
    const run = this.run();
    if (!run) throw new UserError(`${this.dir}: the benchmark store has no run yet`);
    return run.settings;
  }

  /**
   * Records the settings, prompts and jobs of a run; in a store that has them already, checks the settings are
   * the same (naming the first that differs) and adds nothing. Returns the settings' fingerprint.
   */
  initialise(
    settings: BenchmarkSettings,
    prompts: readonly { setName: string; prompt: BenchmarkPrompt }[],
    jobs: readonly JobKey[],
  ): string {
    const fingerprint = settingsFingerprint(settings);
    const existing = this.run();
    if (existing) {
      if (existing.version !== STORE_VERSION) {
        throw new UserError(
          `${this.dir} was made by store layout version ${existing.version}; this dnb writes version ${STORE_VERSION}: use another --out folder`,
        );
      }
      const difference = firstDifference(existing.settings, JSON.parse(canonicalJson(settings)));
      if (difference) {
        throw new UserError(
          `${this.dir} holds a benchmark run with other settings (${difference}); repeat its settings to resume it, or use another --out folder`,
        );
      }
      return existing.fingerprint;
    }
    const insertPrompt = this.db.prepare(
      'INSERT OR IGNORE INTO prompts (set_name, prompt_id, text, structure) VALUES (?, ?, ?, ?)',
    );
    const insertJob = this.db.prepare(
      'INSERT OR IGNORE INTO jobs (set_name, prompt_id, method, seed, updated_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO run (id, settings, fingerprint, created_at, version) VALUES (1, ?, ?, ?, ?)')
        .run(canonicalJson(settings), fingerprint, now(), STORE_VERSION);
      for (const { setName, prompt } of prompts) {
        insertPrompt.run(setName, prompt.id, prompt.text, JSON.stringify(prompt));
      }
      const at = now();
      for (const job of jobs) insertJob.run(job.setName, job.promptId, job.method, job.seed, at);
    })();
    return fingerprint;
  }

  /** The prompt a job's (set, prompt id) names, as the run stored it. */
  prompt(setName: string, promptId: string): BenchmarkPrompt {
    const row = this.db
      .prepare('SELECT structure FROM prompts WHERE set_name = ? AND prompt_id = ?')
      .get(setName, promptId) as { structure: string } | undefined;
    if (!row) throw new UserError(`${this.dir}: no prompt ${setName}/${promptId} in the store`);
    return JSON.parse(row.structure);
  }

  jobs(filter: JobFilter = {}): JobRow[] {
    const columns = { status: 'status', method: 'method', setName: 'set_name' } as const;
    const given = (Object.keys(columns) as (keyof JobFilter)[]).filter((k) => filter[k] !== undefined);
    const where = given.map((k) => `${columns[k]} = ?`);
    const values = given.map((k) => filter[k] as string);
    const sql = `SELECT * FROM jobs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return (this.db.prepare(sql).all(...values) as RawJob[]).map(jobOf);
  }

  job(id: number): JobRow | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as RawJob | undefined;
    return row && jobOf(row);
  }

  /** Every result with its job. */
  results(): ResultRow[] {
    const rows = this.db
      .prepare(
        `SELECT jobs.*, results.job_id, results.image_path, results.timings, results.trace_summary,
                results.worker, results.created_at
         FROM results JOIN jobs ON jobs.id = results.job_id ORDER BY jobs.id`,
      )
      .all() as (RawJob & {
      job_id: number;
      image_path: string;
      timings: string;
      trace_summary: string | null;
      worker: string;
      created_at: string;
    })[];
    return rows.map((row) => ({
      ...jobOf(row),
      jobId: row.job_id,
      imagePath: row.image_path,
      timings: JSON.parse(row.timings),
      traceSummary: row.trace_summary === null ? null : JSON.parse(row.trace_summary),
      worker: row.worker,
      createdAt: row.created_at,
    }));
  }

  status(): StoreStatus {
    const counts = this.db
      .prepare(
        `SELECT COUNT(*) AS expected,
                COALESCE(SUM(status = 'done'), 0) AS done,
                COALESCE(SUM(status = 'failed'), 0) AS failed,
                COALESCE(SUM(status = 'pending'), 0) AS pending
         FROM jobs`,
      )
      .get() as Omit<StoreStatus, 'duplicates'>;
    const { duplicates } = this.db
      .prepare(
        `SELECT COALESCE(SUM(n - 1), 0) AS duplicates FROM (
           SELECT COUNT(*) AS n FROM results JOIN jobs ON jobs.id = results.job_id
           GROUP BY jobs.set_name, jobs.prompt_id, jobs.method, jobs.seed HAVING n > 1)`,
      )
      .get() as { duplicates: number };
    return { ...counts, duplicates };
  }

  /**
   * Stores a job's result and marks it done, in one transaction. Idempotent: a job that has its result
   * already keeps it, and false is returned.
   */
  recordResult(jobId: number, result: JobResult, createdAt = now()): boolean {
    return this.db.transaction(() => {
      const job = this.job(jobId);
      if (!job) throw new Error(`no job ${jobId} in the store`);
      const inserted = this.db
        .prepare(
          `INSERT OR IGNORE INTO results (job_id, image_path, seed, timings, trace_summary, worker, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          jobId,
          result.imagePath,
          job.seed,
          JSON.stringify(result.timings),
          result.traceSummary === null ? null : JSON.stringify(result.traceSummary),
          result.worker,
          createdAt,
        );
      if (inserted.changes === 0) return false;
      this.db
        .prepare(
          "UPDATE jobs SET status = 'done', error = NULL, attempts = attempts + 1, updated_at = ? WHERE id = ?",
        )
        .run(now(), jobId);
      return true;
    })();
  }

  /** Marks a job failed with its error (a done job stays done). */
  recordFailure(jobId: number, error: string): void {
    this.db
      .prepare(
        "UPDATE jobs SET status = 'failed', error = ?, attempts = attempts + 1, updated_at = ? WHERE id = ? AND status != 'done'",
      )
      .run(error, now(), jobId);
  }

  /** Puts failed jobs back to pending, so the next run tries them again; returns how many. */
  retryFailed(): number {
    return this.db
      .prepare("UPDATE jobs SET status = 'pending', error = NULL, updated_at = ? WHERE status = 'failed'")
      .run(now()).changes;
  }

  recordScore(jobId: number, metric: string, value: number, detail: unknown = null): void {
    this.db
      .prepare('INSERT OR REPLACE INTO scores (job_id, metric, value, detail) VALUES (?, ?, ?, ?)')
      .run(jobId, metric, value, detail === null ? null : JSON.stringify(detail));
  }

  scoresFor(metric: string): ScoreRow[] {
    const rows = this.db
      .prepare('SELECT job_id, metric, value, detail FROM scores WHERE metric = ? ORDER BY job_id')
      .all(metric) as { job_id: number; metric: string; value: number; detail: string | null }[];
    return rows.map((r) => ({
      jobId: r.job_id,
      metric: r.metric,
      value: r.value,
      detail: r.detail === null ? null : JSON.parse(r.detail),
    }));
  }

  /** Stores a prompt's questions; a question already stored is kept as it is. */
  recordQuestions(setName: string, promptId: string, questions: readonly TifaQuestion[]): void {
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO questions (set_name, prompt_id, question, choices, answer, category, element)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const q of questions) {
        insert.run(
          setName,
          promptId,
          q.question,
          JSON.stringify(q.choices),
          q.answer,
          q.category ?? null,
          q.element ?? null,
        );
      }
    })();
  }

  questionsFor(setName: string, promptId: string): (TifaQuestion & { id: number })[] {
    const rows = this.db
      .prepare('SELECT * FROM questions WHERE set_name = ? AND prompt_id = ? ORDER BY id')
      .all(setName, promptId) as {
      id: number;
      question: string;
      choices: string;
      answer: string;
      category: string | null;
      element: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      question: r.question,
      choices: JSON.parse(r.choices),
      answer: r.answer,
      ...(r.category !== null ? { category: r.category } : {}),
      ...(r.element !== null ? { element: r.element } : {}),
    }));
  }
}
