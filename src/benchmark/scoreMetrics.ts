/**
 * The scores a benchmark image gets, as the store's `scores.metric` column names them. The first three are
 * Attend & Excite's metrics (Chefer et al. 2023, §5; D&B's Fig. 5 reuses them), the last TIFA's (Hu et al. 2023).
 */
export const BENCHMARK_METRICS = ['clip-full', 'clip-min-half', 'text-text', 'tifa'] as const;

export type BenchmarkMetric = (typeof BENCHMARK_METRICS)[number];

export const METRIC_LABELS: Record<BenchmarkMetric, string> = {
  'clip-full': 'Full prompt similarity',
  'clip-min-half': 'Minimum object similarity',
  'text-text': 'Text-text similarity',
  tifa: 'TIFA score',
};

/** What each score is, for a report's reader. */
export const METRIC_DESCRIPTIONS: Record<BenchmarkMetric, string> = {
  'clip-full':
    'CLIP cosine between the image and the prompt, averaged over the 80 ImageNet templates (A&E image-text).',
  'clip-min-half':
    "The smaller of the image's template-averaged CLIP cosines with the prompt's two halves (split at “and”).",
  'text-text':
    "CLIP cosine between the image's BLIP caption and the prompt's template embedding (A&E text-text).",
  tifa: 'Share of the prompt’s questions that BLIP VQA answers correctly (TIFA accuracy).',
};

export function isBenchmarkMetric(name: string): name is BenchmarkMetric {
  return (BENCHMARK_METRICS as readonly string[]).includes(name);
}
