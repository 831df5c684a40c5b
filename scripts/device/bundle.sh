#!/usr/bin/env bash
# Build .devpkg/ for a lent device machine (this workplace's `device` tool: an H200 machine whose
# image has Python 3.12 and torch but no Ray, MLflow or gensim, and no network). It holds the
# cp312 wheels of finelabel's stack that the image lacks, unpacked, trimmed (no Java, RLlib,
# tests or C sources; binaries stripped) and xz-compressed under the 64 MiB a call may carry
# (~40 MB), plus run.sh and bench_growth.py. Then, with the tool:
#   run(command="bash .devpkg/run.sh", carry=[".devpkg"], timeout_s=...)
# Needs pip's access to the registries here; ~5 min, most of it xz.
#   bash scripts/device/bundle.sh [DEVICE_PACKAGES_FILE]
set -euo pipefail
cd "$(dirname "$0")/../.."
kinds=${1:-../.library/device/KINDS.md}
work=${BUNDLE_WORK:-/tmp/finelabel-device-wheels}
py=(--only-binary=:all: --python-version 3.12 --implementation cp)
for n in 1 5 17 24 27 28 31 34 35; do py+=(--platform "manylinux_2_${n}_x86_64"); done
py+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
mkdir -p "$work/wheels" .devpkg
grep -qx "/.devpkg/" .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo "/.devpkg/" >> .git/info/exclude; }
# the stack at the versions this checkout's .venv runs (torch stays the image's own)
pins=$(.venv/bin/python -m pip list --format=freeze 2>/dev/null \
  | grep -iE '^(ray|mlflow|gensim|torch[-_]geometric|numpy|scipy|pandas|pyarrow)==' || true)
python3 -m pip download -q "${py[@]}" -d "$work/wheels" "ray[default,data,train,tune]" mlflow \
  gensim torch-geometric $pins
# the names the image already has: the "Packages:" line of the device kind's description
have=$(grep -o 'Packages: .*' "$kinds" | sed 's/^Packages: //; s/\.$//' | tr -d ' ' | tr ',' '\n' \
  | tr 'A-Z_' 'a-z-' | grep -vx "torch-geometric")  # carried anyway: finelabel pins its version
need=() seen=""
for wheel in "$work"/wheels/*.whl; do  # one wheel a name (several platform tags may be there)
  name=$(basename "$wheel" | cut -d- -f1 | tr 'A-Z_' 'a-z-')
  grep -qx "$name" <<<"$have$seen" && continue
  need+=("$wheel") seen+=$'\n'"$name"
done
echo "carrying ${#need[@]} wheels the image lacks"
rm -rf "$work/site"
python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" "${py[@]}" \
  "${need[@]}"
cd "$work/site"
rm -rf ray/jars ray/rllib gensim/test bin virtualenv*
find . \( -name "*.c" -o -name "*.cpp" -o -name "*.pyx" -o -name "*.pxd" \) -delete
strip --strip-unneeded ray/_raylet.so ray/core/src/ray/gcs/gcs_server ray/core/src/ray/raylet/raylet
find . -name "*.so" -size +1M -exec strip --strip-unneeded {} \;
cd - > /dev/null
tar -C "$work/site" -cf - . | xz -9 -T"${XZ_THREADS:-0}" > .devpkg/bundle.tar.xz
cp scripts/device/run.sh scripts/device/bench_growth.py .devpkg/
du -sh .devpkg/bundle.tar.xz
