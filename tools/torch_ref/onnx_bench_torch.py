#!/usr/bin/python3
"""PyTorch eager inference timing for `eflip bench infer` (same weights, same input shape).

  /usr/bin/python3 tools/torch_ref/onnx_bench_torch.py --weights w.safetensors --batches 1,8 \
      --frames 29 --iters 10 --threads 2

Prints JSON {"torch": version, "threads": n, "ms_per_clip": {"1": ms, "8": ms}} using the
median over iterations after warm-up. The network is tools/torch_ref/lipreader.py (docs/design.md).

With --serve it stays up for interleaved measurements: after a JSON hello line it reads
"BATCH ITERS" lines on stdin and answers each with {"batch": B, "ms_per_clip": median}.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import lipreader  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', required=True)
    ap.add_argument('--batches', default='1,8')
    ap.add_argument('--frames', type=int, default=29)
    ap.add_argument('--size', type=int, default=88)
    ap.add_argument('--iters', type=int, default=10)
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--serve', action='store_true')
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    model, cfg, _ = lipreader.load_model(a.weights)
    model.eval()
    size = a.size
    out = {}
    if a.serve:
        print(json.dumps(dict(torch=torch.__version__, threads=torch.get_num_threads())), flush=True)
        inputs = {}
        with torch.no_grad():
            for line in sys.stdin:
                if not line.strip():
                    continue
                b, iters = (int(v) for v in line.split())
                if b not in inputs:
                    inputs[b] = torch.randn(b, cfg.get('inChannels', 1), a.frames, size, size)
                    model(inputs[b])
                times = []
                for _ in range(max(1, iters)):
                    t0 = time.perf_counter()
                    model(inputs[b])
                    times.append((time.perf_counter() - t0) * 1000 / b)
                print(json.dumps(dict(batch=b, ms_per_clip=statistics.median(times))), flush=True)
        return
    with torch.no_grad():
        for b in [int(v) for v in a.batches.split(',')]:
            x = torch.randn(b, cfg.get('inChannels', 1), a.frames, size, size)
            for _ in range(2):
                model(x)
            times = []
            for _ in range(max(1, a.iters if b == 1 else max(2, a.iters // 3))):
                t0 = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - t0) * 1000 / b)
            out[str(b)] = statistics.median(times)
    print(json.dumps(dict(torch=torch.__version__, threads=torch.get_num_threads(), ms_per_clip=out)))


if __name__ == '__main__':
    main()
