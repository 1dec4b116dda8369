#!/usr/bin/python3
"""PyTorch side of `eflip bench ops`: the same measurements as src/cli/bench/ops.ts.

Protocol (JSON lines, so eflip and PyTorch measurements can alternate case by case and see
the same machine load): the first stdin line is {threads, reps}; the reply is {version}.
Every further line is a case {name, kind, n, ...}; the reply is {name, seconds} (seconds per
call, best of reps).
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def best(fn, n, reps):
    fn()  # warm-up
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = min(t, (time.perf_counter() - t0) / n)
    return t


def build(c):
    k = c["kind"]
    torch.manual_seed(0)
    if k == "tiny_add":
        a, b = torch.randn(4), torch.randn(4)
        return lambda: torch.add(a, b)
    if k == "tiny_add_":
        a, b = torch.randn(4), torch.randn(4)
        return lambda: a.add_(b, alpha=1e-9)
    if k == "tiny_chain":
        a = torch.randn(4)
        return lambda: a.mul(2).add(1).relu().sum()
    if k == "conv3d":
        x, w = torch.randn(*c["x"]), torch.randn(*c["w"])
        return lambda: F.conv3d(x, w, None, c["stride"], c["padding"])
    if k == "conv2d":
        x, w = torch.randn(*c["x"]), torch.randn(*c["w"])
        return lambda: F.conv2d(x, w, None, c["stride"], c["padding"], 1, c.get("groups", 1))
    if k == "matmul":
        a, b = torch.randn(*c["a"]), torch.randn(*c["b"])
        return lambda: a @ b
    if k == "mix_train":
        x3, w3 = torch.randn(*c["x3"]), torch.randn(*c["w3"], requires_grad=True)
        w2 = torch.randn(*c["w2"], requires_grad=True)
        wl = torch.randn(*c["wl"], requires_grad=True)

        def step():
            h = F.conv3d(x3, w3, None, (1, 2, 2), (1, 2, 2)).relu()
            n, ch, t, hh, ww = h.shape
            h = h.transpose(1, 2).reshape(n * t, ch, hh, ww)
            h = F.conv2d(h, w2, None, 2, 1).relu()
            h = h.mean(dim=(2, 3))
            y = h @ wl
            y.square().mean().backward()
            w3.grad = None
            w2.grad = None
            wl.grad = None
        return step
    raise ValueError(f"unknown case kind {k}")


def main():
    cfg = json.loads(sys.stdin.readline())
    torch.set_num_threads(cfg["threads"])
    print(json.dumps({"version": torch.__version__}), flush=True)
    built = {}
    for line in sys.stdin:
        c = json.loads(line)
        if c["name"] not in built:
            built[c["name"]] = build(c)
        print(json.dumps({"name": c["name"], "seconds": best(built[c["name"]], c["n"], cfg["reps"])}), flush=True)


if __name__ == "__main__":
    main()
