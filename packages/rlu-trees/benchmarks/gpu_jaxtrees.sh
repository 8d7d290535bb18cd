#!/usr/bin/env bash
# bench_jaxtrees on the GPU machine (Python 3.12, jax with CUDA, no network), then the main
# CPU configuration on the same (quiet, 16-core) machine, then bench_jaxreplay on the GPU
# (--quick: buffers of 2^16; about a minute). flashbax travels as a wheel in .whl/:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp -d .whl flashbax==0.1.3
# Arguments go to every GPU run (e.g. --repeats 3); flashbax's set_batch_scan is very slow on
# a GPU (one small kernel per leaf), so it runs once per configuration.
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$(ls -d packages/*/src | paste -sd:) || exit
# flashbax's package imports its vault (tensorstore) even for the sum tree: stub it if absent
python3 -c "import tensorstore" 2>/dev/null || { mkdir -p /tmp/site/tensorstore && : > /tmp/site/tensorstore/__init__.py; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
bench=packages/rlu-trees/benchmarks/bench_jaxtrees.py
extra=("$@")
for config in "20 256 1" "24 256 1" "20 32 1" "20 1024 1" "14 256 64"; do
    read -r log2n batch trees <<< "$config"
    JAX_PLATFORMS=cuda timeout 50 python3 $bench --log2n "$log2n" --batch "$batch" \
        --trees "$trees" --scan-repeats 1 "${extra[@]}" || echo "(N=2^$log2n B=$batch x$trees: timed out or failed)"
done
echo "=== CPU of the same machine ==="
JAX_PLATFORMS=cpu timeout 40 python3 $bench --log2n 20 --batch 256 --repeats 5
echo "=== bench_jaxreplay on the GPU ==="
JAX_PLATFORMS=cuda timeout 150 python3 packages/rlu-replay/benchmarks/bench_jaxreplay.py --quick \
    || echo "(bench_jaxreplay: timed out or failed)"
