#!/usr/bin/env bash
# The GPU check for extraction (issue 17): one command, <= 5 minutes on one GPU.
#
#   bash bench/gpu_check.sh [OUT.json]          # on a CUDA machine
#   bash bench/gpu_check.sh --cpu-smoke [OUT]   # reduced CPU mode (the test suite runs it)
#
# Generated SSv2-like clips (VP9 426x240, 48 frames), the real-size ViT-S with random
# weights in the released MVD layout, bfloat16 autocast, decoding workers sized to the
# machine (CPUs - 1, at most 16). Prints decode-only, decode + views and end-to-end videos/s,
# the peak GPU memory and the decode-bound ratio (end to end / decode + views; the goal is
# >= 0.90), and writes them with the machine's description as JSON (default
# gpu_check.json). Put its figures in the README's table with that description.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python}"
if [[ -x "$here/../.venv/bin/python" && -z "${PYTHON:-}" ]]; then python="$here/../.venv/bin/python"; fi
cpus="$(nproc 2>/dev/null || echo 2)"
workers=$(( cpus > 1 ? cpus - 1 : 1 ))
workers=$(( workers > 16 ? 16 : workers ))
if [[ "${1:-}" == "--cpu-smoke" ]]; then
    out="${2:-gpu_check_cpu.json}"
    # REDUCED: a tiny ViT on a few clips, to prove the script and its JSON on any machine
    exec "$python" "$here/bench_extract.py" --device cpu --model reduced --vlm none \
        --clips ssv2 --videos 4 --workers 1 --batch-size 2 --json "$out"
fi
out="${1:-gpu_check.json}"
"$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check.sh: no CUDA device here (use --cpu-smoke for the reduced CPU mode)')"
exec timeout 300 "$python" "$here/bench_extract.py" --device cuda --model vit-s --vlm none \
    --clips ssv2 --videos 1024 --workers "$workers" --batch-size 8 --json "$out"
