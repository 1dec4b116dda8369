#!/usr/bin/python3
"""Reference side of the engine's op-parity test (test/engine_parity.test.ts).

Usage: ops_parity.py DIR
DIR/manifest.json lists cases {name, inputs: [{file, shape, dtype}], grad: [input indices],
seed}. For each case this runs the same computation with PyTorch, writes every output and
the gradients of sum(out0 * cos(arange(n))) w.r.t. the `grad` inputs as raw little-endian
files, and DIR/results.json describing them. One process for all cases (importing torch
costs seconds).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

DT = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int64": torch.int64, "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool,
}
NAME = {v: k for k, v in DT.items()}


def bn_train(x, w, b, momentum=0.1, eps=1e-5):
    c = x.shape[1]
    rm = torch.linspace(-0.5, 0.5, c, dtype=x.dtype)
    rv = torch.linspace(0.5, 1.5, c, dtype=x.dtype)
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum, eps=eps)
    return y, rm, rv


def adamw_step(p, g, m, v):
    # one decoupled-weight-decay Adam update written with the in-place ops optimizers use
    p, m, v = p.clone(), m.clone(), v.clone()
    lr, b1, b2, eps, wd, t = 1e-2, 0.9, 0.98, 1e-8, 5e-4, 3
    p.mul_(1 - lr * wd)
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    denom = v.sqrt().div_(math.sqrt(1 - b2 ** t)).add_(eps)
    p.addcdiv_(m, denom, value=-lr / (1 - b1 ** t))
    return p, m, v


def foreach_update(a, c, p):
    xs = [a.clone(), c.clone()]
    torch._foreach_mul_(xs, 0.5)
    torch._foreach_add_(xs, [c, a], alpha=2)
    torch._foreach_addcmul_(xs, [a, c], [p, p], 0.1)
    torch._foreach_addcdiv_(xs, [c, a], [p, p], -0.2)
    return tuple(xs)


def attention(q, k, v):
    d = q.shape[-1]
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1) @ v


# name -> fn(*inputs) -> tensor or tuple of tensors (must match test/engine_parity.test.ts)
CASES = {
    # creation and random (seeded identically on both sides)
    "zeros": lambda: torch.zeros(2, 3),
    "ones_int32": lambda: torch.ones(3, dtype=torch.int32),
    "full": lambda: torch.full((2, 2), 3.5),
    "arange_int": lambda: torch.arange(2, 11, 3),
    "arange_float": lambda: torch.arange(0, 1, 0.25, dtype=torch.float32),
    "linspace": lambda: torch.linspace(0, 1, 5),
    "eye": lambda: torch.eye(3),
    "rand": lambda: torch.rand(3, 4),
    "randn": lambda: torch.randn(3, 4),
    "randint": lambda: torch.randint(0, 10, (7,)),
    "bernoulli_p": lambda: torch.empty(20).bernoulli_(0.3),
    "bernoulli_t": lambda p: torch.bernoulli(p),
    "dropout": lambda x: F.dropout(x, 0.3, True),
    # elementwise, broadcasting, scalars
    "add_bcast": lambda a, b: torch.add(a, b, alpha=2),
    "sub_scalar": lambda a: a - 1.5,
    "rsub": lambda a: 2 - a,
    "mul_bcast": lambda a, c: a * c,
    "div": lambda a, p: a / p,
    "div_scalar": lambda a: a / 3,
    "div_floor": lambda a, p: torch.div(a, p, rounding_mode="floor"),
    "pow_scalar": lambda p: p ** 2.5,
    "pow_tensor": lambda p, b: p ** b,
    "sqrt": lambda p: p.sqrt(),
    "rsqrt": lambda p: p.rsqrt(),
    "exp": lambda a: a.exp(),
    "log": lambda p: p.log(),
    "log1p": lambda p: p.log1p(),
    "abs": lambda a: a.abs(),
    "neg": lambda a: -a,
    "tanh": lambda a: a.tanh(),
    "sin": lambda a: a.sin(),
    "erf": lambda a: a.erf(),
    "square": lambda a: a.square(),
    "reciprocal": lambda p: p.reciprocal(),
    "clamp": lambda a: a.clamp(-0.5, 0.5),
    "clamp_min": lambda a: a.clamp(min=0),
    "clamp_tensor": lambda a, b: torch.clamp(a, min=b),
    "maximum": lambda a, c: torch.maximum(a, c),
    "minimum": lambda a, c: torch.minimum(a, c),
    "lerp": lambda a, c: torch.lerp(a, c, 0.3),
    "eq_scalar": lambda i: i == 2,
    "lt_tensor": lambda a, b: a < b,
    "ge_scalar": lambda a: a >= 0.1,
    "logical": lambda a, b: torch.logical_and(a > 0, b > 0) | torch.logical_not(a > 1),
    "where_tensor": lambda a, c: torch.where(a > 0, a, c),
    "where_scalar": lambda a: torch.where(a > 0, a, torch.tensor(0.0)),
    "masked_fill": lambda a: a.masked_fill(a < 0, -1.0),
    "noncontig_mul": lambda a, d: a.t() * d,
    "noncontig_exp": lambda x: x.permute(2, 0, 1).exp(),
    # reductions
    "sum_all": lambda x: x.sum(),
    "sum_dims": lambda x: x.sum(dim=(1, 2), keepdim=True),
    "mean_all": lambda x: x.mean(),
    "mean_dim": lambda x: x.mean(dim=1),
    "max_all": lambda x: x.max(),
    "max_dim": lambda x: tuple(x.max(dim=1)),
    "min_dim": lambda x: tuple(x.min(dim=2, keepdim=True)),
    "argmax_dim": lambda x: x.argmax(dim=1),
    "argmax_all": lambda x: x.argmax(),
    "topk": lambda x: tuple(x.topk(2, dim=-1)),
    "topk_smallest": lambda x: tuple(x.topk(3, dim=1, largest=False)),
    "var_dim": lambda x: x.var(dim=1),
    "var_biased": lambda x: x.var(unbiased=False),
    "std_dim": lambda x: x.std(dim=(0, 2), keepdim=True),
    "logsumexp": lambda x: x.logsumexp(dim=-1),
    "amax": lambda x: x.amax(dim=(1, 2)),
    "cumsum": lambda x: x.cumsum(dim=1),
    "prod": lambda x: x.prod(dim=2),
    "norm": lambda x: torch.linalg.vector_norm(x, 2),
    "sort": lambda x: tuple(x.sort(dim=-1, descending=True)),
    # shape ops
    "reshape": lambda x: x.reshape(5, 12),
    "view": lambda x: x.view(-1, 4, 5),
    "permute": lambda x: x.permute(2, 0, 1).contiguous(),
    "transpose": lambda x: x.transpose(0, 2),
    "cat": lambda x, y: torch.cat([x, y], dim=1),
    "stack": lambda x, z: torch.stack([x, z, x], dim=1),
    "narrow": lambda x: x.narrow(2, 1, 3),
    "slice_step": lambda x: x[:, 1::2],
    "slice_neg": lambda x: x[..., -3:-1],
    "index_select": lambda x, i: x.index_select(1, i),
    "gather": lambda x, i: x.gather(2, i),
    "flip": lambda x: x.flip([0, 2]),
    "pad_const": lambda x: F.pad(x, [1, 2], value=0.5),
    "pad_reflect": lambda x: F.pad(x, [2, 1], mode="reflect"),
    "pad_replicate_2d": lambda x: F.pad(x, [1, 1, 2, 0], mode="replicate"),
    "expand": lambda v: v.expand(3, 4, 5),
    "squeeze": lambda v: v.squeeze(),
    "squeeze_dim": lambda v: v.squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "flatten": lambda x: x.flatten(1),
    "split": lambda x: tuple(x.split(2, dim=2)),
    "chunk": lambda x: tuple(x.chunk(3, dim=1)),
    "unbind": lambda x: tuple(x.unbind(0)),
    "select": lambda x: x.select(1, 2),
    "index_adv": lambda x, i: x[:, i],
    "repeat": lambda x: x.repeat(1, 2, 1),
    "roll": lambda x: x.roll(1, 2),
    "tril": lambda m: m.tril(),
    # linear algebra
    "matmul_2d": lambda m, n: m @ n,
    "matmul_bcast": lambda x, n5: x @ n5,
    "bmm": lambda bq, bk: torch.bmm(bq, bk.transpose(1, 2)),
    "linear": lambda x, w, b: F.linear(x, w, b),
    "linear_nobias": lambda x, w: F.linear(x, w),
    "einsum": lambda bq, bk: torch.einsum("bid,bjd->bij", bq, bk),
    "attention": attention,
    # convolutions
    "conv1d": lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
    "conv1d_dil_groups": lambda x, w: F.conv1d(x, w, None, dilation=2, padding=2, groups=2),
    "conv1d_noncontig": lambda x, w, b: F.conv1d(x.transpose(1, 2), w, b, padding=1),
    "conv2d": lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
    "conv2d_depthwise": lambda x, w: F.conv2d(x, w, None, padding=1, groups=4),
    "conv2d_same_dil": lambda x, w: F.conv2d(x, w, None, padding="same", dilation=2),
    "conv3d_frontend": lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 2), padding=(1, 2, 2)),
    "conv3d_groups_dil": lambda x, w: F.conv3d(x, w, None, padding=2, dilation=2, groups=2),
    # normalisation
    "batch_norm2d_train": lambda x, w, b: bn_train(x, w, b),
    "batch_norm3d_train": lambda x, w, b: bn_train(x, w, b, momentum=0.01, eps=1e-3),
    "batch_norm1d_eval": lambda x, w, b, rm, rv: F.batch_norm(x, rm, rv, w, b, training=False),
    "layer_norm": lambda x, w, b: F.layer_norm(x, (5,), w, b),
    "layer_norm_2d": lambda x, w2: F.layer_norm(x, (4, 5), w2, None, eps=1e-6),
    "group_norm": lambda x, w, b: F.group_norm(x, 2, w, b),
    # activations
    "relu": lambda a: F.relu(a),
    "silu": lambda a: F.silu(a),
    "sigmoid": lambda a: torch.sigmoid(a),
    "prelu": lambda x, s: F.prelu(x, s),
    "glu": lambda x: F.glu(x, dim=1),
    "gelu": lambda a: F.gelu(a),
    "gelu_tanh": lambda a: F.gelu(a, approximate="tanh"),
    "softmax": lambda x: F.softmax(x, dim=1),
    "log_softmax": lambda x: F.log_softmax(x, dim=-1),
    "leaky_relu": lambda a: F.leaky_relu(a, 0.1),
    "hardswish": lambda a: F.hardswish(a),
    # pooling
    "adaptive_avg_pool1d": lambda x: F.adaptive_avg_pool1d(x, 1),
    "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
    "adaptive_avg_pool3d": lambda x: F.adaptive_avg_pool3d(x, 1),
    "max_pool3d": lambda x: F.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1)),
    "max_pool2d": lambda x: F.max_pool2d(x, 2),
    "avg_pool2d": lambda x: F.avg_pool2d(x, 3, 2, 1),
    # losses
    "nll_mean": lambda lp, t: F.nll_loss(lp, t),
    "nll_weight_sum": lambda lp, t, cw: F.nll_loss(lp, t, weight=cw, reduction="sum"),
    "nll_none_ignore": lambda lp, t: F.nll_loss(lp, t, reduction="none", ignore_index=1),
    "ce_mean": lambda z, t: F.cross_entropy(z, t),
    "ce_smooth": lambda z, t: F.cross_entropy(z, t, label_smoothing=0.1),
    "ce_weight_smooth": lambda z, t, cw: F.cross_entropy(z, t, weight=cw, label_smoothing=0.2),
    "ce_none": lambda z, t: F.cross_entropy(z, t, reduction="none"),
    "ce_probs": lambda z, q: F.cross_entropy(z, q),
    "mse": lambda a, c: F.mse_loss(a, c),
    # in-place ops (optimizers, init)
    "add_": lambda a, c: a.clone().add_(c, alpha=0.5),
    "sub_scalar_": lambda a: a.clone().sub_(0.25),
    "mul_": lambda a, c: a.clone().mul_(c),
    "mul_scalar_": lambda a: a.clone().mul_(0.9),
    "div_": lambda a, p: a.clone().div_(p),
    "addcmul_": lambda a, c, p: a.clone().addcmul_(c, p, value=0.3),
    "addcdiv_": lambda a, c, p: a.clone().addcdiv_(c, p, value=-0.1),
    "lerp_": lambda a, c: a.clone().lerp_(c, 0.25),
    "copy_": lambda a: torch.zeros(3, 4).copy_(a),
    "zero_fill_": lambda a: torch.stack([a.clone().zero_(), a.clone().fill_(2.5)]),
    "clamp_sqrt_": lambda p: p.clone().clamp_(0.5, 1.5).sqrt_(),
    "masked_fill_": lambda a: a.clone().masked_fill_(a > 0.5, 0.0),
    "uniform_": lambda: torch.empty(3, 4).uniform_(-1, 1),
    "normal_": lambda: torch.empty(3, 4).normal_(2, 0.5),
    "adamw_step": adamw_step,
    "foreach": foreach_update,
    # autocast (cases named autocast_* run inside torch.autocast("cpu", bfloat16))
    "autocast_conv2d": lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
    "autocast_linear": lambda x, w, b: F.linear(x, w, b),
    "autocast_softmax_of_matmul": lambda m, n: torch.softmax(m @ n, dim=-1),
    # dtypes
    "to_float64": lambda a: a.double() * 3,
    "to_float16": lambda a: a.half(),
    "to_bfloat16": lambda a: a.bfloat16(),
    "half_roundtrip": lambda a: a.half().float() * 2,
    "int_to_float": lambda i: i.float() / 2,
}


def load(d, spec):
    with open(os.path.join(d, spec["file"]), "rb") as f:
        buf = bytearray(f.read())
    dt = DT[spec["dtype"]]
    if len(buf) == 0:
        return torch.empty(spec["shape"], dtype=dt)
    return torch.frombuffer(buf, dtype=dt).reshape(spec["shape"]).clone()


def save(d, name, t):
    t = t.detach().contiguous()
    dtype = NAME[t.dtype]
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    data = t.numpy().tobytes() if t.dtype not in (torch.float16, torch.bfloat16) else t.view(torch.int16).numpy().tobytes()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    return {"file": name, "shape": list(t.shape), "dtype": dtype}


def main():
    d = sys.argv[1]
    torch.set_num_threads(1)
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    results = {}
    for case in manifest["cases"]:
        name = case["name"]
        try:
            xs = [load(d, s) for s in case["inputs"]]
            for i in case.get("grad", []):
                xs[i].requires_grad_(True)
            if case.get("seed") is not None:
                torch.manual_seed(case["seed"])
            if name.startswith("autocast_"):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    out = CASES[name](*xs)
            else:
                out = CASES[name](*xs)
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            res = {"outputs": [save(d, f"{name}.out{k}.bin", o) for k, o in enumerate(outs)], "grads": []}
            if case.get("grad"):
                o = outs[0]
                g = torch.cos(torch.arange(o.numel(), dtype=torch.float64)).reshape(o.shape).to(o.dtype)
                (o * g).sum().backward()
                res["grads"] = [save(d, f"{name}.grad{i}.bin", xs[i].grad) for i in case["grad"]]
            results[name] = res
        except Exception as e:  # reported per case; the test fails that case with this message
            results[name] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(results, open(os.path.join(d, "results.json"), "w"))


if __name__ == "__main__":
    main()
