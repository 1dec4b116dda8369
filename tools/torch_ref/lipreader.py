#!/usr/bin/python3
"""PyTorch reference of the eflip lipreading network (written from docs/design.md, "The model").

Used only by tests and benchmarks, run with Debian's python3-torch (1.13):

  /usr/bin/python3 tools/torch_ref/lipreader.py count --variant T --classes 500
  /usr/bin/python3 tools/torch_ref/lipreader.py init --variant T --classes 500 --seed 0 --out w.safetensors
  /usr/bin/python3 tools/torch_ref/lipreader.py forward --weights w.safetensors --input x.safetensors \
      --out y.safetensors [--train] [--grads]

Parameter and buffer names equal the reference implementation's state-dict keys (docs/design.md),
so the same safetensors file loads here and in the TypeScript model. Unlike the reference
implementation, attention runs over time within each clip (config "attention": "self" gives the
reference's batch-1 function: each frame attends only to itself), batch 1 keeps its dimension,
drop-path is applied and BN momentum is configurable (default 0.01, PyTorch convention).
Config keys mirror src/model/config.ts (ModelConfig); the config travels as JSON in the
safetensors metadata under "config".
"""
import argparse
import json
import math
import struct
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------- config (mirrors src/model/config.ts)

def _rows(text):
    out = []
    for row in text.split('·'):
        nums, kind = row.strip().rsplit(' ', 1)
        e, k, s, i, o, n = [int(v) for v in nums.split(',')]
        fused = kind == 'F'
        out.append(dict(expand=e, kernel=k, stride=s, inChannels=i, outChannels=o, layers=n, se=not fused, fused=fused))
    return out

STAGES = {
    'T': _rows('1,3,1,8,8,1 F · 4,3,2,8,16,2 F · 4,3,2,16,32,2 F · 4,3,2,32,56,3 M · 6,3,1,56,64,5 M · 6,3,2,64,112,8 M'),
    'S': _rows('1,3,1,24,24,2 F · 4,3,2,24,48,4 F · 4,3,2,48,64,4 F · 4,3,2,64,128,6 M · 6,3,1,128,160,9 M · 6,3,2,160,256,15 M'),
    'B': _rows('1,3,1,24,24,1 F · 4,3,2,24,32,2 F · 4,3,2,32,48,2 F · 4,3,2,48,96,3 M · 6,3,1,96,112,5 M · 6,3,2,112,192,8 M'),
}


def default_config(variant='T', classes=500):
    return dict(
        variant=variant, stages=STAGES[variant], classes=classes, inChannels=1,
        frontendMaxPool=False, frontendActivation='relu', featureDim=384,
        transformer=dict(layers=1, heads=8, ffn=128, dropout=0.4), attention='time',
        tcn=dict(layers=4, width=463, kernel=3, dropout=0.4),
        dropout=0.4, dropPath=0.2, bnMomentum=0.01, bnEps=1e-5,
    )


def adjust_channels(v):
    """EfficientNet channel rounding: nearest multiple of 8 (>= 8), never below 90 % of v."""
    n = max(8, int(v + 4) // 8 * 8)
    if n < 0.9 * v:
        n += 8
    return n

# ---------------------------------------------------------------- modules

def conv_bn(cfg, cin, cout, k, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=cfg['bnEps'], momentum=cfg['bnMomentum'])]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class DropPath(nn.Module):
    """Stochastic depth per sample (training only)."""
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype).bernoulli_(keep)
        return x * mask / keep


class SqueezeExcite(nn.Module):
    def __init__(self, ch, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(ch, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, ch, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = torch.sigmoid(self.fc2(F.silu(self.fc1(s))))
        return x * s


class Block(nn.Module):
    def __init__(self, cfg, row, cin, stride, drop_path):
        super().__init__()
        e, k, cout = row['expand'], row['kernel'], row['outChannels']
        inter = adjust_channels(cin * e)
        self.residual = stride == 1 and cin == cout
        b = OrderedDict()
        if row['fused']:
            b['fused'] = conv_bn(cfg, cin, inter, k, stride)
            b['fused_point_wise'] = conv_bn(cfg, inter, cout, 1, act=False)
        else:
            b['linear_bottleneck'] = conv_bn(cfg, cin, inter, 1)
            b['depth_wise'] = conv_bn(cfg, inter, inter, k, stride, groups=inter)
            if row['se']:
                b['se'] = SqueezeExcite(inter, inter // (4 * e))
            b['point_wise'] = conv_bn(cfg, inter, cout, 1, act=False)
        self.block = nn.Sequential(b)
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        y = self.block(x)
        return x + self.drop_path(y) if self.residual else y


class Stage7(nn.Module):
    def __init__(self, cin, feat):
        super().__init__()
        self.pointwise = nn.Conv2d(cin, 2 * feat, 1, bias=False)

    def forward(self, x):
        return F.glu(F.adaptive_avg_pool2d(self.pointwise(x), 1).flatten(1), dim=1)


class EfficientNetV2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        rows = cfg['stages']
        total = sum(r['layers'] for r in rows)
        blocks, idx = [], 0
        for r in rows:
            for j in range(r['layers']):
                cin = r['inChannels'] if j == 0 else r['outChannels']
                stride = r['stride'] if j == 0 else 1
                blocks.append(Block(cfg, r, cin, stride, cfg['dropPath'] * idx / total))
                idx += 1
        self.blocks = nn.Sequential(*blocks)
        self.stage_7 = Stage7(rows[-1]['outChannels'], cfg['featureDim'])

    def forward(self, x):
        return self.stage_7(self.blocks(x))


class Frontend3D(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c0 = cfg['stages'][0]['inChannels']
        m = OrderedDict()
        m['conv3d'] = nn.Conv3d(cfg['inChannels'], c0, (3, 5, 5), (1, 2, 2), (1, 2, 2), bias=True)
        m['bn'] = nn.BatchNorm3d(c0, eps=cfg['bnEps'], momentum=cfg['bnMomentum'])
        m['act'] = nn.SiLU() if cfg['frontendActivation'] == 'swish' else nn.ReLU()
        if cfg['frontendMaxPool']:
            m['pool'] = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.conv3d = nn.Sequential(m)
        self.efnet = EfficientNetV2(cfg)

    def forward(self, x):  # (B, C, T, H, W) -> (B, T, feat)
        b, t = x.shape[0], x.shape[2]
        y = self.conv3d(x)                                  # (B, c0, T, H', W')
        y = y.transpose(1, 2).reshape(b * t, *y.shape[1:2], *y.shape[3:])  # (B*T, c0, H', W')
        return self.efnet(y).reshape(b, t, -1)


class TcnLayer(nn.Module):
    def __init__(self, cfg, cin, width, dilation):
        super().__init__()
        k, p = cfg['tcn']['kernel'], cfg['tcn']['dropout']
        pad = dilation * (k - 1) // 2
        bn = lambda: nn.BatchNorm1d(width, eps=cfg['bnEps'], momentum=cfg['bnMomentum'])
        self.conv_block = nn.Sequential(
            nn.Conv1d(cin, width, k, padding=pad, dilation=dilation), bn(), nn.PReLU(), nn.Dropout(p),
            nn.Conv1d(width, width, k, padding=pad, dilation=dilation), bn(), nn.PReLU(), nn.Dropout(p),
            nn.PReLU())
        self.residual = nn.Conv1d(cin, width, 1) if cin != width else nn.Identity()

    def forward(self, x):  # (B, C, T)
        return self.residual(x) + self.conv_block(x)


class Tcn(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        w = cfg['tcn']['width']
        self.tcn_layers = nn.Sequential(*[
            TcnLayer(cfg, cfg['featureDim'] if i == 0 else w, w, 2 ** i) for i in range(cfg['tcn']['layers'])])

    def forward(self, x):
        return self.tcn_layers(x)


class LipReader(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        tr = cfg['transformer']
        d = cfg['featureDim']
        self.frontend_3d = Frontend3D(cfg)
        # attention 'self' is the reference implementation at batch 1: its sequence-first layer
        # (batch_first=False) is fed batch-first data, so a (1, T, d) clip is T sequences of one
        # frame and every frame attends only to itself. Here (B, T, d) runs as (1, B·T, d).
        self.attention = cfg.get('attention', 'time')
        if self.attention not in ('time', 'self'):
            raise ValueError(f"attention must be time or self, got {self.attention!r}")
        first = self.attention == 'time'
        mk = lambda: nn.TransformerEncoderLayer(d, tr['heads'], tr['ffn'], tr['dropout'], batch_first=first)
        if tr['layers'] == 1:
            self.transformer_encoder = mk()
        elif tr['layers'] == 0:
            self.transformer_encoder = nn.Identity()
        else:
            self.transformer_encoder = nn.Module()
            self.transformer_encoder.layers = nn.ModuleList([mk() for _ in range(tr['layers'])])
        self.tcn_block = Tcn(cfg)
        self.dropout = nn.Dropout(cfg['dropout'])
        self.fc_layer = nn.Linear(cfg['tcn']['width'], cfg['classes'])

    def forward_features(self, x):
        return self.frontend_3d(x)

    def forward_head(self, f):  # (B, T, d) -> (B, classes)
        B, T, d = f.shape
        if self.attention == 'self':
            f = f.reshape(1, B * T, d)  # the reference's call at B = 1: layer(x) with x (1, T, d)
        if hasattr(self.transformer_encoder, 'layers'):
            for l in self.transformer_encoder.layers:
                f = l(f)
        else:
            f = self.transformer_encoder(f)
        f = f.reshape(B, T, d)
        y = self.tcn_block(f.transpose(1, 2))   # (B, width, T)
        y = self.dropout(y.mean(2))
        return F.log_softmax(self.fc_layer(y), dim=1)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))

# ---------------------------------------------------------------- safetensors (tiny, no package in Debian)

_DT = {'F32': torch.float32, 'F64': torch.float64, 'F16': torch.float16, 'BF16': torch.bfloat16,
       'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8,
       'BOOL': torch.bool}
_TD = {v: k for k, v in _DT.items()}


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', {}) or {}
    base = 8 + n
    out = OrderedDict()
    for name, h in header.items():
        a, b = h['data_offsets']
        buf = bytearray(raw[base + a:base + b])
        t = torch.frombuffer(buf, dtype=_DT[h['dtype']]) if b > a else torch.empty(0, dtype=_DT[h['dtype']])
        out[name] = t.reshape(h['shape']).clone()
    return out, meta


def write_safetensors(path, tensors, meta=None):
    header, blobs, off = OrderedDict(), [], 0
    if meta:
        header['__metadata__'] = {k: str(v) for k, v in meta.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = dict(dtype=_TD[t.dtype], shape=list(t.shape), data_offsets=[off, off + len(data)])
        blobs.append(data)
        off += len(data)
    hj = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hj += b' ' * ((8 - len(hj) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)

# ---------------------------------------------------------------- helpers / CLI

def count(model):
    parts = OrderedDict(frontend=0, transformer=0, tcn=0, head=0)
    key = dict(frontend_3d='frontend', transformer_encoder='transformer', tcn_block='tcn', fc_layer='head')
    for n, p in model.named_parameters():
        parts[key[n.split('.')[0]]] += p.numel()
    return sum(parts.values()), parts


def macs(model, cfg, t=29, size=88):
    """Conv + linear multiply-accumulates per clip, measured with forward hooks."""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            k = m.weight[0].numel()  # (in/groups) * prod(kernel)
            total[0] += out.numel() * k
        elif isinstance(m, nn.Linear):
            total[0] += out.numel() * m.in_features
    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, cfg['inChannels'], t, size, size))
    for h in hs:
        h.remove()
    return total[0]


def complete_config(cfg):
    """Fill keys missing from a stored config with defaults (as src/model/config.ts does)."""
    full = default_config(cfg.get('variant', 'T') if cfg.get('variant', 'T') in STAGES else 'T', cfg.get('classes', 500))
    d = cfg.get('dropout', full['dropout'])
    full['transformer']['dropout'] = full['tcn']['dropout'] = d
    for k, v in cfg.items():
        if isinstance(v, dict):
            full[k].update(v)
        else:
            full[k] = v
    return full


def calibrate(model, batches, seed=0):
    """Non-trivial weights: perturbed norms (BN and LayerNorm affine) and BatchNorm running
    statistics measured on `batches` (cumulative average over train-mode forwards, dropout off).
    Freshly initialised weights give nearly input-independent per-frame features, on which
    attention over time and attention to self compute nearly the same thing."""
    g = torch.Generator().manual_seed(seed)
    drops = []
    for mod in model.modules():
        if isinstance(mod, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
            n = mod.weight.numel()
            mod.weight.data = 1 + 0.4 * (torch.rand(n, generator=g) - 0.5)
            mod.bias.data = 0.2 * (torch.rand(n, generator=g) - 0.5)
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.reset_running_stats()
            mod.momentum = None
        if isinstance(mod, nn.Dropout):
            drops.append((mod, mod.p))
            mod.p = 0.0
    tr_drop = [(l, l.dropout.p) for l in model.modules() if isinstance(l, nn.TransformerEncoderLayer)]
    for l, _ in tr_drop:
        l.self_attn.dropout = 0.0
    model.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    model.eval()
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.momentum = 0.1
    for mod, p in drops:
        mod.p = p
    for l, p in tr_drop:
        l.self_attn.dropout = p
    return model


def load_model(weights):
    tensors, meta = read_safetensors(weights)
    cfg = complete_config(json.loads(meta['config']))
    model = LipReader(cfg)
    missing, unexpected = model.load_state_dict(tensors, strict=True)
    return model, cfg, meta


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('count'); c.add_argument('--variant', default='T'); c.add_argument('--classes', type=int, default=500)
    c.add_argument('--config'); c.add_argument('--macs', action='store_true')
    i = sub.add_parser('init'); i.add_argument('--variant', default='T'); i.add_argument('--classes', type=int, default=500)
    i.add_argument('--config', help='JSON config (overrides --variant/--classes)'); i.add_argument('--seed', type=int, default=0)
    i.add_argument('--out', required=True); i.add_argument('--random-bn', action='store_true', help='randomise BN stats/affine')
    i.add_argument('--calibrate', help='safetensors of inputs x*: perturbed norms + BN statistics measured on them')
    f = sub.add_parser('forward'); f.add_argument('--weights', required=True); f.add_argument('--input', required=True)
    f.add_argument('--out', required=True)
    f.add_argument('--train', action='store_true', help='train mode (batch-stat BN, updated running stats) with all dropout off')
    f.add_argument('--grads', action='store_true', help='NLL loss vs input "target<suffix>", write grad<suffix>.<param>')
    f.add_argument('--features', action='store_true', help='also write forward_features output')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)

    if a.cmd == 'count':
        cfg = json.loads(a.config) if a.config else default_config(a.variant, a.classes)
        m = LipReader(cfg)
        tot, parts = count(m)
        res = dict(total=tot, parts=parts, buffers={n: list(b.shape) for n, b in m.named_buffers()} and None)
        res.pop('buffers')
        if a.macs:
            res['macs'] = macs(m, cfg)
        print(json.dumps(res))
    elif a.cmd == 'init':
        cfg = complete_config(json.loads(a.config)) if a.config else default_config(a.variant, a.classes)
        torch.manual_seed(a.seed)
        m = LipReader(cfg)
        if a.random_bn:  # make BN non-trivial so parity tests exercise running stats and affine
            g = torch.Generator().manual_seed(a.seed + 1)
            for mod in m.modules():
                if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                    n = mod.num_features
                    mod.weight.data = 1 + 0.2 * (torch.rand(n, generator=g) - 0.5)
                    mod.bias.data = 0.1 * (torch.rand(n, generator=g) - 0.5)
                    mod.running_mean.data = 0.1 * (torch.rand(n, generator=g) - 0.5)
                    mod.running_var.data = 1 + 0.5 * torch.rand(n, generator=g)
        if a.calibrate:
            inp, _ = read_safetensors(a.calibrate)
            calibrate(m, [inp[k] for k in sorted(inp) if k.startswith('x')], a.seed + 2)
        write_safetensors(a.out, m.state_dict(), dict(config=json.dumps(cfg), format='eflip'))
        print(json.dumps(dict(params=count(m)[0])))
    elif a.cmd == 'forward':
        tensors, meta = read_safetensors(a.weights)
        cfg = complete_config(json.loads(meta['config']))
        if a.train:  # parity in train mode: BN uses batch stats, every dropout/drop-path off
            cfg['dropout'] = cfg['dropPath'] = cfg['transformer']['dropout'] = cfg['tcn']['dropout'] = 0.0
        m = LipReader(cfg)
        m.load_state_dict(tensors, strict=True)
        m.train(a.train)
        inp, _ = read_safetensors(a.input)
        out = OrderedDict()
        # every input named x<suffix> gives logp<suffix> (and features<suffix>)
        for name in [k for k in inp if k.startswith('x')]:
            sfx = name[1:]
            x = inp[name]
            with torch.set_grad_enabled(a.grads):
                y = m(x)
                out['logp' + sfx] = y
                if a.features:
                    out['features' + sfx] = m.forward_features(x)
                if a.grads:
                    m.zero_grad(set_to_none=True)
                    loss = F.nll_loss(y, inp['target' + sfx].long())
                    loss.backward()
                    out['loss' + sfx] = loss.detach().reshape(1)
                    for n, p in m.named_parameters():
                        out['grad' + sfx + '.' + n] = p.grad.clone()
        if a.train:
            for n, b in m.named_buffers():
                out['buffer.' + n] = b
        write_safetensors(a.out, OrderedDict((k, v.detach()) for k, v in out.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
