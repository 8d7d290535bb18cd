#!/usr/bin/env bash
# bench_jaxtrees on the GPU machine (Python 3.12, jax with CUDA, no network), then the main
# CPU configuration on the same (quiet, 16-core) machine. flashbax travels as a wheel in .whl/:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp -d .whl flashbax==0.1.3
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:packages/rlu-trees/src:packages/rlu-core/src || exit
# flashbax's package imports its vault (tensorstore) even for the sum tree: stub it if absent
python3 -c "import tensorstore" 2>/dev/null || { mkdir -p /tmp/site/tensorstore && : > /tmp/site/tensorstore/__init__.py; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
JAX_PLATFORMS=cuda timeout 240 python3 packages/rlu-trees/benchmarks/bench_jaxtrees.py "$@"
echo "=== CPU of the same machine ==="
JAX_PLATFORMS=cpu timeout 120 python3 packages/rlu-trees/benchmarks/bench_jaxtrees.py --log2n 20 --batch 256 --repeats 5
