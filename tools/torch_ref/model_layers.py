#!/usr/bin/python3
"""torch.nn layer outputs for eflip's nn tests (same weights and inputs through safetensors).

  model_layers.py mha --io F.safetensors --out G.safetensors
      F: mha.* state dict (embed 'd', heads in metadata), q, k, v, attn_mask (bool), key_padding_mask (bool)
      G: self (self-attention of q), cross (q over k/v with both masks)
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lipreader import read_safetensors, write_safetensors  # noqa: E402


def mha(io, out):
    t, meta = read_safetensors(io)
    d, h = int(meta['embed']), int(meta['heads'])
    m = torch.nn.MultiheadAttention(d, h, batch_first=True).eval()
    m.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith('mha.')}, strict=True)
    with torch.no_grad():
        res = OrderedDict()
        res['self'] = m(t['q'], t['q'], t['q'], need_weights=False)[0]
        res['cross'] = m(t['q'], t['k'], t['v'], attn_mask=t['attn_mask'].bool(),
                         key_padding_mask=t['key_padding_mask'].bool(), need_weights=False)[0]
    write_safetensors(out, res)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd', choices=['mha'])
    ap.add_argument('--io', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    mha(a.io, a.out)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
