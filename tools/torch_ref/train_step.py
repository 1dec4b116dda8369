#!/usr/bin/python3
"""PyTorch side of `eflip bench train`: the same training step (forward, NLL, backward, AdamW)
on the reference network of tools/torch_ref/lipreader.py, timed on random clips.

  /usr/bin/python3 tools/torch_ref/train_step.py --variant T --batch 8 --steps 5 [--bf16|--fp16] [--threads N]
      [--device cpu|cuda:N] [--channels-last]

fp16 (CUDA only) is autocast with torch.cuda.amp.GradScaler, like eflip's train.precision=fp16.

Prints one JSON line: {"clips_per_s", "step_ms", "cpu_ms_per_step", "peak_rss_mb", "losses"}.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lipreader  # noqa: E402  (the project's PyTorch reference network)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--variant', default='T')
    ap.add_argument('--classes', type=int, default=500)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--frames', type=int, default=29)
    ap.add_argument('--size', type=int, default=88)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--bf16', action='store_true')
    ap.add_argument('--fp16', action='store_true')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--channels-last', action='store_true')
    ap.add_argument('--threads', type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if a.bf16 and dev.type == 'cpu':
        # PyTorch 1.13's CPU autocast leaves layer_norm out of its fp32 list, so a bf16 input
        # meets fp32 weights and fails; newer releases run it in fp32 — do that here too.
        def ln_fp32(self, x):
            return F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps)
        torch.nn.LayerNorm.forward = ln_fp32
    torch.manual_seed(0)
    cfg = lipreader.default_config(a.variant, a.classes)
    model = lipreader.LipReader(cfg).train().to(dev)
    if a.channels_last:
        # the 2-D trunk only (module.to(memory_format=...) refuses the 5-d conv3d weight), as eflip does
        model.frontend_3d.efnet.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), weight_decay=5e-4)
    x = torch.randn(a.batch, 1, a.frames, a.size, a.size).to(dev)
    y = torch.randint(0, a.classes, (a.batch,)).to(dev)
    amp = a.bf16 or a.fp16
    scaler = None
    if a.fp16:  # torch.amp.GradScaler from 2.3 on; torch.cuda.amp's is deprecated there
        scaler = torch.amp.GradScaler('cuda') if hasattr(torch.amp, 'GradScaler') else torch.cuda.amp.GradScaler()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.float16 if a.fp16 else torch.bfloat16, enabled=amp):
            out = model(x)
        loss = F.nll_loss(out.float(), y)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        return float(loss)  # waits for the device

    for _ in range(a.warmup):
        step()
    losses = []
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        losses.append(step())
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(json.dumps({
        'clips_per_s': a.batch * a.steps / dt,
        'step_ms': 1000 * dt / a.steps,
        'cpu_ms_per_step': 1000 * cpu / a.steps,
        'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        'losses': losses,
        'threads': torch.get_num_threads(),
        'torch': torch.__version__,
        'device': str(dev),
        **({'gpu_max_allocated_mb': torch.cuda.max_memory_allocated(dev) / 2**20} if dev.type == 'cuda' else {}),
    }))


if __name__ == '__main__':
    main()
