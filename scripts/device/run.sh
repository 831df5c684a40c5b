#!/usr/bin/env bash
# On the device machine (built by scripts/device/bundle.sh, carried as .devpkg): unpack the
# stack beside the image's torch, run the GPU tests, then start the benchmark's growth and
# training parts in their own session and wait for them until END_S seconds have passed. A
# second call within the machine's warm window waits on the same run and collects it.
#   TESTS=tests/train/test_gpu_training.py END_S=500 bash .devpkg/run.sh
set -u
start=$(date +%s)
end_s=${END_S:-500}
mkdir -p /tmp/site /tmp/bench
export PYTHONPATH=/tmp/site:$PWD RAY_DATA_DISABLE_PROGRESS_BARS=1 PYTHONUNBUFFERED=1
if [ ! -f /tmp/bench/started ]; then
  tar -xJf .devpkg/bundle.tar.xz -C /tmp/site || exit 3
  if [ -n "${TESTS-tests/train/test_gpu_training.py}" ]; then
    timeout "${TEST_S:-200}" python3 -m pytest -q -p no:cacheprovider \
      ${TESTS-tests/train/test_gpu_training.py} > "$OUT/tests.log" 2>&1
    echo "tests rc $?"; tail -15 "$OUT/tests.log"
  fi
  cp -a . /tmp/repo
  (cd /tmp/repo && PYTHONPATH=/tmp/site:/tmp/repo setsid nohup python3 .devpkg/bench_growth.py \
     /tmp/bench/out > /tmp/bench/log 2>&1; echo $? > /tmp/bench/rc) > /dev/null 2>&1 &
  touch /tmp/bench/started
fi
while [ ! -f /tmp/bench/rc ] && [ $(( $(date +%s) - start )) -lt "$end_s" ]; do sleep 5; done
cp /tmp/bench/log "$OUT/bench.log" 2>/dev/null
if [ -f /tmp/bench/rc ]; then echo "benchmark rc $(cat /tmp/bench/rc)"; else echo "benchmark still running"; fi
cp /tmp/bench/out/benchmark.json /tmp/bench/out/growth.png "$OUT/" 2>/dev/null
grep -v "finelabel.stages\|finelabel.progress\|UserWarning\|sparse_coo_tensor" /tmp/bench/log | tail -45
