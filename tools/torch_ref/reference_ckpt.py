#!/usr/bin/python3
"""Reference-implementation fixtures for `eflip import` (issue #14), with Debian's python3-torch
and python3-omegaconf:

  reference_ckpt.py make --variant T --words 100 --clips a.mp4,b.mp4,... --out F.ckpt --ema-out E.safetensors
      [--hparams omegaconf|none] [--seed N]
    A Lightning-style checkpoint as the reference writes it: state_dict ('model.' prefix, raw
    weights), hyper_parameters (the Hydra config as an omegaconf DictConfig: data.words = N,
    data.words_list = null), callbacks['EMA'] = {'ema_state_dict': EMA weights} and optimizer
    state. Weights are non-trivial: perturbed norms and BatchNorm statistics measured on the
    given real clips (the reference's preprocessing); EMA weights differ from the raw ones.
    E.safetensors holds the EMA weights with config attention 'self' for `predict`.

  reference_ckpt.py edit --in F.ckpt --out G.ckpt --hparams JSON [--omegaconf] [--cycle]
    The same checkpoint with other hyper-parameters (hostile-input cases): JSON as given (an
    omegaconf DictConfig with --omegaconf); --cycle makes the dict contain itself twice.

  reference_ckpt.py predict --weights E.safetensors --clips a.mp4,... --out P.json [--attention self|time]
    The reference at batch 1: each clip read as the reference reads it (ffmpeg RGB frames,
    x/255, torchvision's luma 0.2989/0.587/0.114, centre 88 crop = rows/cols 84-172,
    (x - 0.4161)/0.1688), forwarded alone; log-probs per clip.
"""
import argparse
import json
import os
import subprocess
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lipreader import LipReader, calibrate, complete_config, default_config, read_safetensors, write_safetensors  # noqa: E402

MEAN, STD, CROP = 0.4161, 0.1688, 88


def read_clip(path):
    """(1, 1, T, 88, 88) float, the reference's preprocessing of an LRW clip (256x256)."""
    probe = subprocess.run(['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height',
                            '-of', 'csv=p=0', path], check=True, capture_output=True, text=True).stdout.strip().split(',')
    w, h = int(probe[0]), int(probe[1])
    raw = subprocess.run(['ffmpeg', '-hide_banner', '-nostdin', '-v', 'error', '-threads', '1', '-autorotate', '1', '-i', path,
                          '-map', '0:v:0', '-vf', 'fps=25,format=rgb24', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
                         check=True, capture_output=True).stdout
    v = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(-1, h, w, 3)
    x = v.permute(0, 3, 1, 2).float() / 255                           # (T, 3, H, W) in [0, 1]
    grey = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]       # torchvision rgb_to_grayscale
    top, left = (h - CROP) // 2, (w - CROP) // 2                      # 84 for 256
    grey = grey[:, top:top + CROP, left:left + CROP]
    return ((grey - MEAN) / STD).unsqueeze(0).unsqueeze(0)            # (1, 1, T, 88, 88)


def hparams(words, kind):
    cfg = {
        'data': {'words': words, 'words_list': None, 'root': '/data/lipread_mp4', 'mean': MEAN, 'std': STD},
        'model': {'efficientnet_size': 'T', 'dropout': 0.4},
        'trainer': {'batch_size': 16, 'lr': 1e-4, 'ema_decay': 0.999},
    }
    if kind == 'omegaconf':
        from omegaconf import OmegaConf
        return OmegaConf.create(cfg)
    return cfg


def make(a):
    clips = [read_clip(p) for p in a.clips.split(',')]
    cfg = default_config(a.variant, a.words)
    cfg['attention'] = 'self'
    torch.manual_seed(a.seed)
    m = LipReader(cfg)
    # BN statistics from real batches: each clip alone (the reference serves at batch 1) and all
    # clips of equal length together
    calibrate(m, clips + [torch.cat(clips, 0)], a.seed + 1)
    raw = OrderedDict((k, v.detach().clone()) for k, v in m.state_dict().items())
    g = torch.Generator().manual_seed(a.seed + 2)
    ema = OrderedDict()
    for k, v in raw.items():
        if not v.is_floating_point():
            continue  # the EMA callback keeps floats only: BN counters come from state_dict
        ema[k] = v + 0.05 * v.abs().mean() * torch.randn(v.shape, generator=g) if 'running_var' not in k else v.clone()
    opt_params = [torch.nn.Parameter(v.clone()) for v in list(raw.values())[:3]]
    opt = torch.optim.AdamW(opt_params, lr=1e-4)
    sum((p ** 2).sum() for p in opt_params).backward()
    opt.step()
    ckpt = {
        'epoch': 39,
        'global_step': 1222000,
        'pytorch-lightning_version': '1.9.0',
        'state_dict': OrderedDict(('model.' + k, v) for k, v in raw.items()),
        'optimizer_states': [opt.state_dict()],
        'lr_schedulers': [{'last_epoch': 39, '_last_lr': [1e-4]}],
        'callbacks': {
            "ModelCheckpoint{'monitor': 'val_acc', 'mode': 'max'}": {'best_model_score': torch.tensor(0.81)},
            'EMA': {'decay': 0.999, 'ema_state_dict': ema},
        },
    }
    if a.hparams != 'none':
        ckpt['hyper_parameters'] = hparams(a.words, a.hparams)
    torch.save(ckpt, a.out)
    full = OrderedDict((k, ema.get(k, v)) for k, v in raw.items())
    write_safetensors(a.ema_out, full, dict(config=json.dumps(cfg), format='eflip'))


def edit(a):
    ckpt = torch.load(a.inp)
    hp = json.loads(a.hparams)
    if a.cycle:
        hp['again'] = hp
        hp['more'] = [hp, hp]
    if a.omegaconf:
        from omegaconf import OmegaConf
        hp = OmegaConf.create(hp)
    ckpt['hyper_parameters'] = hp
    torch.save(ckpt, a.out)


def predict(a):
    tensors, meta = read_safetensors(a.weights)
    cfg = complete_config(json.loads(meta['config']))
    if a.attention:
        cfg['attention'] = a.attention
    m = LipReader(cfg)
    m.load_state_dict(tensors, strict=True)
    m.eval()
    out = {}
    with torch.no_grad():
        for p in a.clips.split(','):
            out[os.path.basename(p)] = m(read_clip(p))[0].tolist()  # batch 1, as the reference serves
    with open(a.out, 'w') as f:
        json.dump(out, f)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    mk = sub.add_parser('make')
    mk.add_argument('--variant', default='T'); mk.add_argument('--words', type=int, default=100)
    mk.add_argument('--clips', required=True); mk.add_argument('--out', required=True); mk.add_argument('--ema-out', required=True)
    mk.add_argument('--hparams', default='omegaconf', choices=['omegaconf', 'dict', 'none']); mk.add_argument('--seed', type=int, default=0)
    pr = sub.add_parser('predict')
    pr.add_argument('--weights', required=True); pr.add_argument('--clips', required=True); pr.add_argument('--out', required=True)
    pr.add_argument('--attention', choices=['self', 'time'])
    ed = sub.add_parser('edit')
    ed.add_argument('--in', dest='inp', required=True); ed.add_argument('--out', required=True); ed.add_argument('--hparams', required=True)
    ed.add_argument('--omegaconf', action='store_true'); ed.add_argument('--cycle', action='store_true')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    dict(make=make, predict=predict, edit=edit)[a.cmd](a)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
