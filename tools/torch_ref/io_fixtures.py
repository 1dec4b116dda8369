#!/usr/bin/python3
"""Checkpoint fixtures for eflip's import tests, written with real torch.save (python3-torch 1.13).

  io_fixtures.py misc --out F.pt                 various objects/dtypes/strides (expected values in F.pt.json)
  io_fixtures.py lightning --weights W.safetensors --out F.ckpt
                                                 Lightning-style: state_dict keys prefixed 'model.',
                                                 hyper_parameters (non-tensor objects), epoch, optimizer state
  io_fixtures.py evil --out F.pt --marker PATH   a checkpoint whose unpickling would call os.system('touch PATH')
  io_fixtures.py bare --weights W.safetensors --out F.pt   bare state dict, SE 1×1 convs stored as Linear (out, in)
  io_fixtures.py legacy --out F.pt               the pre-1.6 (non-zip) torch.save format
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lipreader import read_safetensors  # noqa: E402


class HParams:
    """A plain object, as Lightning pickles user hyper-parameter containers."""
    def __init__(self, **kw):
        self.__dict__.update(kw)


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ('touch ' + self.marker,))


def misc(out):
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    obj = OrderedDict()
    obj['f32'] = torch.randn(2, 3, generator=g)
    obj['f64'] = torch.randn(5, generator=g, dtype=torch.float64)
    obj['f16'] = torch.randn(3, 2, generator=g).half()
    obj['bf16'] = torch.randn(4, generator=g).bfloat16()
    obj['i64'] = torch.arange(-3, 3, dtype=torch.int64)
    obj['bool'] = torch.tensor([True, False, True])
    obj['transposed'] = base.t()                   # non-contiguous strides
    obj['slice'] = base[1:3, 2:5]                  # storage offset + strides
    obj['shares_base'] = base                      # same storage as the two views above
    obj['scalar'] = torch.tensor(3.5)
    obj['empty'] = torch.zeros(0, 3)
    obj['param'] = torch.nn.Parameter(torch.ones(2, 2))
    extras = {'int': 7, 'neg': -123456, 'big': 2 ** 70, 'float': 0.25, 'str': 'héllo', 'bytes': b'\x00\x01\xff',
              'tuple': (1, 'a', None), 'list': [1, [2, 3]], 'set': {3}, 'bool': True, 'none': None,
              (1, 2): 'tuple key', 'hp': HParams(lr=1e-4, name='x')}
    torch.save({'tensors': obj, 'extras': extras}, out)
    expect = {k: dict(dtype=str(v.dtype).replace('torch.', ''), shape=list(v.shape),
                      values=v.detach().float().reshape(-1).tolist()) for k, v in obj.items()}
    with open(out + '.json', 'w') as f:
        json.dump(expect, f)


def lightning(weights, out):
    sd, _ = read_safetensors(weights)
    params = [torch.nn.Parameter(v.clone()) for k, v in sd.items() if v.is_floating_point()]
    opt = torch.optim.AdamW(params[:3], lr=1e-4)
    loss = sum((p ** 2).sum() for p in params[:3])
    loss.backward()
    opt.step()
    ckpt = {
        'epoch': 12,
        'global_step': 3456,
        'pytorch-lightning_version': '1.5.10',
        'state_dict': OrderedDict(('model.' + k, v) for k, v in sd.items()),
        'optimizer_states': [opt.state_dict()],
        'lr_schedulers': [{'last_epoch': 12, '_last_lr': [1e-4]}],
        'hyper_parameters': {'hparams': HParams(efficientnet_size='T', lr=1e-4, words=500), 'words': 500},
        'callbacks': {'ModelCheckpoint': {'best_model_score': torch.tensor(0.81)}},
    }
    torch.save(ckpt, out)


def bare(weights, out):
    """A bare state dict (torch.save(model.state_dict())), SE convs saved as Linear weights."""
    sd, _ = read_safetensors(weights)
    sd = OrderedDict((k, v.reshape(v.shape[:2]) if '.se.fc' in k and k.endswith('weight') else v) for k, v in sd.items())
    torch.save(sd, out)


def legacy(out):
    torch.save({'w': torch.ones(2)}, out, _use_new_zipfile_serialization=False)


def evil(out, marker):
    torch.save({'state_dict': {'x': Evil(marker)}, 'epoch': Evil(marker)}, out)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd', choices=['misc', 'lightning', 'evil', 'legacy', 'bare'])
    ap.add_argument('--out', required=True)
    ap.add_argument('--weights')
    ap.add_argument('--marker')
    a = ap.parse_args(argv)
    if a.cmd == 'misc':
        misc(a.out)
    elif a.cmd == 'lightning':
        lightning(a.weights, a.out)
    elif a.cmd == 'bare':
        bare(a.weights, a.out)
    elif a.cmd == 'legacy':
        legacy(a.out)
    else:
        evil(a.out, a.marker)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
