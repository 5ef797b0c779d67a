#!/usr/bin/env bash
# Makes the example report in this folder on the tiny test models (a few minutes on 2 cores): two prompts of each
# shipped set, the three methods, two seeds, 10 steps, scored with the tiny CLIP, BLIP-caption and BLIP-VQA models.
# Random tiny models draw noise, so the numbers say nothing about the methods; the report's shape is the point.
set -euo pipefail
cd "$(dirname "$0")/../.."
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
npx tsx docs/benchmark-example/examplePrompts.ts "$run/prompts.json"
dnb() { npx tsx src/cli/main.ts "$@"; }
dnb benchmark run --prompts "$run/prompts.json" --seeds 0-1 --steps 10 --model test/fixtures/tiny-sd --out "$run/run" >/dev/null
dnb benchmark score "$run/run" --clip-model test/fixtures/eval/clip-tiny \
  --caption-model test/fixtures/eval/blip-caption-tiny --vqa-model test/fixtures/eval/blip-vqa-tiny
dnb benchmark status "$run/run"
dnb benchmark report "$run/run" --out docs/benchmark-example/report.md --title "Tiny-model example run" \
  --grid-prompts 2 --thumbnail 64 --overwrite
