#!/usr/bin/env bash
# Builds bench/device-bundle.tar.xz, what bench/device-check.sh needs on a lent GPU machine that has no Node
# and no network, beside the project itself:
#   node/bin/node        this machine's Node binary (glibc, x86-64)
#   node_modules/        the production dependencies plus tsx and esbuild (the checks run the sources), with only
#                        the linux-x64 native files and without build leftovers, type packages or source maps
#   vulkan/              Debian's libvulkan1 (the loader Dawn, and so --device webgpu, needs), when apt-get can
#                        download it here; the device check uses it only where the machine has no loader
# The project is not in the bundle: every device call already sends the working tree (sources, bin, bench and
# test/fixtures), and at most 64 MiB travel per call, tree and carried files together. Where the bundle does not
# fit beside the tree, it is also written as parts (bench/device-bundle.tar.xz.part-*) that fit one call each;
# the output says how to send them.
# Usage: bench/make-device-bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
output=bench/device-bundle.tar.xz
limit=$((64 * 1024 * 1024))

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/node/bin"
cp "$(command -v node)" "$stage/node/bin/node"

# The installed packages a run needs, read from the lock: every non-development entry, and tsx with what it
# loads. Entries for other platforms are simply not installed here, so only those present are copied.
node --input-type=module -e '
  import { readFileSync, existsSync } from "node:fs";
  const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
  const runner = ["tsx", "esbuild", "@esbuild/linux-x64", "get-tsconfig", "resolve-pkg-maps"];
  const wanted = Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith("node_modules/") && existsSync(path) &&
      (!entry.dev || runner.includes(path.slice(path.lastIndexOf("node_modules/") + 13))))
    .map(([path]) => path);
  // tar copies a folder with what it holds: leave out packages nested in one already listed.
  for (const path of wanted) if (!wanted.some((other) => path.startsWith(`${other}/`))) console.log(path);
' >"$stage/packages.txt"
tar -cf - \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  --exclude='node_modules/better-sqlite3/deps' --exclude='node_modules/better-sqlite3/src' \
  --exclude='node_modules/better-sqlite3/build/Release/obj*' --exclude='node_modules/better-sqlite3/build/deps' \
  --exclude='node_modules/better-sqlite3/build/Release/.deps' --exclude='node_modules/@types' \
  --exclude='*.map' -T "$stage/packages.txt" | tar -xf - -C "$stage"
rm "$stage/packages.txt"
mkdir -p "$stage/node_modules/.bin"
ln -s ../tsx/dist/cli.mjs "$stage/node_modules/.bin/tsx"

if (cd "$stage" && apt-get download -qq libvulkan1 >/dev/null 2>&1); then
  dpkg -x "$stage"/libvulkan1_*.deb "$stage/vulkan" && rm "$stage"/libvulkan1_*.deb
else
  echo "libvulkan1 could not be downloaded: the bundle has no Vulkan loader (WebGPU then needs the machine's)" >&2
fi

tar -C "$stage" -cf - . | xz -9 -T0 >"$output"
rm -f "$output".part-*
size=$(stat -c %s "$output")
# What travels anyway: tracked files and untracked files git does not ignore.
tree=$( (git ls-files -z && git ls-files -z --others --exclude-standard) | xargs -0 stat -c %s 2>/dev/null |
  awk '{ s += $1 } END { print s }')
mib() { awk -v s="$1" 'BEGIN { printf "%.1f MiB", s / 1048576 }'; }
echo "$output: $(mib "$size"); the working tree that travels with it: $(mib "$tree"); limit per call 64 MiB"
room=$((limit - tree - 1024 * 1024))
if ((size + tree <= limit)); then
  echo "fits one call: run with carry [\"$output\"] and the command 'OUT=\$OUT bench/device-check.sh'"
elif ((room < 1024 * 1024)); then
  echo "no room beside the working tree for any part of the bundle" >&2
  exit 1
else
  split -b "$room" -d -a 2 "$output" "$output.part-"
  parts=("$output".part-*)
  echo "too large for one call beside the tree: ${#parts[@]} parts of at most $(mib "$room") each. Send them in back-to-back"
  echo "calls (a warm machine keeps ignored files between calls; it is given back after about 30 s idle), each"
  echo "with carry [one part] and the command 'ls -l bench/', the last one with 'OUT=\$OUT bench/device-check.sh':"
  printf '  %s\n' "${parts[@]}"
fi
