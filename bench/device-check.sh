#!/usr/bin/env bash
# The GPU check for a lent device (an NVIDIA H200 with no Node and no network), run in the repository's root of
# the working tree a device call sends. Unpacks the bundle bench/make-device-bundle.sh built (Node, the linux-x64
# dependencies, a Vulkan loader; whole or as parts) and links its node_modules into the tree, then, each step
# bounded in time, leaves these figures in $OUT/figures.tar.gz (figures/), repacked as each step ends so a run cut
# short still returns what it measured (steps.jsonl and goldens.json are also copied to $OUT itself):
#   machine.txt                the GPU, driver, Vulkan and CUDA libraries found, cores and memory
#   goldens.json               the tiny-model goldens of test/cli (plain SD, 50 PNDM steps; the official stable D&B
#                              run) with --device cpu (the reference), webgpu and cuda: relative error, seconds
#   weights.log                SD 1.5-shaped random weights written (bench/benchModel.ts, seed 0)
#   gpu-512-<device>-dnb.log   the benchmark's generation-stage work at 512 px (D&B tv_bind, 4 PNDM steps, GSN at
#                              loop indices 0-1, 2 refinements) through `dnb generate --device <device>`, and
#   gpu-512-<device>-sd.log    plain SD at 50 steps, for each provider whose D&B golden ran (traces beside them)
#   gpu-512-<device>-dnb-fp16.log  the D&B image with --dtype fp16; each GPU run's log ends with GNU time's
#                              report (peak host RSS) where /usr/bin/time exists
#   bench-512.log, bench-*.json `npm run bench -- --size 512` (the benchmark has no device option: this machine's
#                              CPU), text to generation stages, tv_bind only, as far as DEVICE_CHECK_BENCH_S allows
#   steps.jsonl                each step's exit status and seconds
# Usage: OUT=/path bench/device-check.sh   (time limits in seconds: DEVICE_CHECK_GPU_S, default 120, for each GPU
# run; DEVICE_CHECK_BENCH_S, default 150, for the benchmark)
# Expected time, under 9 min in all so that it fits one 10-minute device call: ~15 s unpacking, ~1-2 min goldens
# (1m45 on 2 loaded cores here), ~40 s writing 4 GiB of weights, 3 x 2 min at most per provider on the GPU, then
# the benchmark. CUDA: onnxruntime-node's CUDA provider files are an opt-in download, not installed where
# the bundle is built, so cuda reports "not available" (the figure says so) unless they are added to the bundle.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
OUT=${OUT:-$root/device-out}
mkdir -p "$OUT"
work=${DEVICE_CHECK_WORK:-/tmp/dnb-device-check}
rm -rf "$work"
# Only a few files come back from $OUT (8 at most): the figures are kept in $work/figures and packed into
# $OUT/figures.tar.gz after every step, with steps.jsonl and goldens.json also beside it for a quick look.
fig=$work/figures
mkdir -p "$fig"
started=$(date +%s)

# One step: its output in figures/<name>.log, its status and seconds appended to figures/steps.jsonl.
step() {
  local name=$1 limit=$2
  shift 2
  local begin rc
  begin=$(date +%s)
  echo "== $name (at most ${limit} s)"
  timeout --kill-after=10 "$limit" "$@" >"$fig/$name.log" 2>&1
  rc=$?
  printf '{"step":"%s","rc":%d,"seconds":%d}\n' "$name" "$rc" "$(($(date +%s) - begin))" | tee -a "$fig/steps.jsonl"
  tar -czf "$OUT/figures.tar.gz" -C "$work" figures
  cp -f "$fig/steps.jsonl" "$OUT/"
  [ -f "$fig/goldens.json" ] && cp -f "$fig/goldens.json" "$OUT/"
  return "$rc"
}

if [ -f bench/device-bundle.tar.xz ]; then
  step unpack 120 tar -xJf bench/device-bundle.tar.xz -C "$work" || exit 1
else
  step unpack 120 sh -c "cat bench/device-bundle.tar.xz.part-* | tar -xJf - -C '$work'" || exit 1
fi
[ -e node_modules ] || ln -s "$work/node_modules" node_modules
export PATH="$work/node/bin:$PATH"
export DNB_CACHE_DIR="$work/cache" ONNXRUNTIME_NODE_INSTALL=skip
# Dawn loads libvulkan.so.1: the bundle's, where the machine has none; and NVIDIA's ICD where it is not registered.
if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 && [ -d "$work/vulkan/usr/lib/x86_64-linux-gnu" ]; then
  export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1 && [ -f "$icd" ]; then
  export VK_DRIVER_FILES=$icd
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "node: $(node -v)"
  echo "cores: $(nproc)"
  free -g
  nvidia-smi 2>&1 || echo "nvidia-smi: not found"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-} VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  echo "-- Vulkan ICDs (WebGPU runs through Dawn on Vulkan):"
  ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1
  echo "-- libraries:"
  ldconfig -p 2>/dev/null | grep -E 'libvulkan|libcuda\.|libcudart|libcublas\.|libcudnn\.' || echo "(none of libvulkan, libcuda, cudart, cublas, cudnn)"
} >"$fig/machine.txt" 2>&1

# The golden check, kept in the unpacked project (its imports are relative to bench/).
mkdir -p bench/out
cat >bench/out/deviceGoldens.ts <<'EOF'
// `tsx bench/out/deviceGoldens.ts OUT_JSON DEVICE...`: the CLI goldens of test/cli on each device.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { writeSafetensors } from '../../src/weights/safetensorsWriter.ts';

const [outJson, ...devices] = process.argv.slice(2);
const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures');
const golden = async (file: string, name: string) =>
  (await openSafetensors(join(fixtures, 'golden', `${file}.safetensors`))).readFloat32(name);
const dnbArgs = ['--method', 'divide-bind', '--steps', '20', '--scale-factor', '3', '--max-iter-to-alter', '10',
  '--thresholds', '0:0.5,10:0.5', '--refinement-caps', '3,3'];
// The CPU bounds of test/cli (relative to max |ref|); measured there 1.4e-6 (sd) and 1.7e-6 (D&B).
const cases = [
  { name: 'sd', init: ['purple_dog_green_crown', 'init_latent'], args: [],
    final: ['purple_dog_green_crown', 'gen_sd/final_latents'], cpuBound: 1.5e-5 },
  { name: 'divide-bind', init: ['purple_dog_green_crown_phases', 'stable/init_latent'], args: dnbArgs,
    final: ['purple_dog_green_crown_phases', 'stable/dnb_tv_bind/final_latents'], cpuBound: 2e-5 },
];
const results: Record<string, unknown>[] = [];
for (const device of devices) {
  for (const c of cases) {
    const dir = mkdtempSync(join(tmpdir(), `golden-${device}-`));
    const init = join(dir, 'init.safetensors');
    const saved = join(dir, 'final.safetensors');
    await writeSafetensors(init, { latents: { dtype: 'F32', shape: [1, 4, 32, 32], data: await golden(c.init[0], c.init[1]) } });
    const begin = performance.now();
    const run = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'dnb.js'), 'generate',
      'a purple dog and a green crown', '--model', join(fixtures, 'tiny-sd'), ...c.args, '--latents', init,
      '--save-latents', saved, '--out', join(dir, 'out.png'), '--cache-dir', join(dir, 'cache'), '--device', device],
      { encoding: 'utf8', timeout: 240_000 });
    const seconds = (performance.now() - begin) / 1000;
    const result: Record<string, unknown> = { device, case: c.name, rc: run.status, seconds };
    if (run.status === 0) {
      const actual = await (await openSafetensors(saved)).readFloat32('latents');
      const reference = await golden(c.final[0], c.final[1]);
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < reference.length; i++) {
        worst = Math.max(worst, Math.abs(actual[i] - reference[i]));
        scale = Math.max(scale, Math.abs(reference[i]));
      }
      Object.assign(result, { relativeError: worst / scale, withinCpuBound: worst / scale <= c.cpuBound, cpuBound: c.cpuBound });
    } else {
      result.error = `${run.stderr ?? ''}${run.error?.message ?? ''}`.trim().split('\n').slice(-3).join(' | ');
    }
    results.push(result);
    console.log(JSON.stringify(result));
    writeFileSync(outJson, `${JSON.stringify(results, null, 2)}\n`);
  }
}
EOF
step goldens 240 node node_modules/tsx/dist/cli.mjs bench/out/deviceGoldens.ts "$fig/goldens.json" cpu webgpu cuda

cat >bench/out/writeWeights.ts <<'EOF'
// `tsx bench/out/writeWeights.ts`: the benchmark's SD 1.5-shaped random weights (seed 0) in $DNB_CACHE_DIR.
import { defaultCacheDir } from '../../src/runtime/cache.ts';
import { benchModel } from '../benchModel.ts';

console.log(await benchModel(defaultCacheDir(), { seed: 0, fp16: false, log: console.log }));
EOF
step weights 300 node node_modules/tsx/dist/cli.mjs bench/out/writeWeights.ts || exit 1
model=$(tail -n 1 "$fig/weights.log")

time_v=()
[ -x /usr/bin/time ] && time_v=(/usr/bin/time -v)

# The generation stage's fixed work (bench/generation.ts: seed 0, 4 PNDM steps, GSN at loop indices 0-1, a
# threshold never reached so refinement runs to its cap of 2 at index 0), then plain SD at the paper's 50 steps.
for device in webgpu cuda; do
  grep -q "\"device\":\"$device\",\"case\":\"divide-bind\",\"rc\":0" "$fig/goldens.log" || continue
  # dnb-fp16 (last, as the least needed): the same image with a half-precision UNet, for the fp16 memory target
  # (the CPU has no fp16 kernels).
  for run in dnb sd dnb-fp16; do
    case $run in
      dnb | dnb-fp16)
        args=(--method divide-bind --steps 4 --max-iter-to-alter 2 --thresholds 0:1e9 --refinement-caps 2,0
          --token-indices 3,7 --attribute-indices 2,6 --attention-res 16)
        [ "$run" = dnb-fp16 ] && args+=(--dtype fp16)
        ;;
      *) args=(--method sd --steps 50) ;;
    esac
    rm -f "$work/$device-$run.png" "$work/$device-$run.json"
    # GNU time's -v gives the peak resident memory (host side; the GPU's own memory is not in it).
    step "gpu-512-$device-$run" "${DEVICE_CHECK_GPU_S:-120}" "${time_v[@]}" node bin/dnb.js generate 'a purple dog and a green crown' \
      --model "$model" --height 512 --width 512 --seed 0 --device "$device" "${args[@]}" \
      --trace "$work/$device-$run.json" --out "$work/$device-$run.png"
    cp "$work/$device-$run.json" "$fig/gpu-512-$device-$run-trace.json" 2>/dev/null
  done
done

step bench-512 "${DEVICE_CHECK_BENCH_S:-150}" node node_modules/tsx/dist/cli.mjs bench/run.ts --size 512 --reps 1 --variants tv_bind \
  --only text,cfg,gsn,vae,startup,generation
cp bench/out/bench-*.json "$fig/" 2>/dev/null
tar -czf "$OUT/figures.tar.gz" -C "$work" figures
echo "done in $(($(date +%s) - started)) s; figures in $OUT"
