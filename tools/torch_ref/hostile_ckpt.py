#!/usr/bin/python3
"""Hostile PyTorch checkpoints for eflip's import tests (test/hostile_pickle.test.ts), crafted at
test time: pickle VM bombs, key-hashing DAGs, zip bombs, lying sizes, stride-0 views, truncations.

  hostile_ckpt.py --weights W.safetensors --dir D --marker M   writes D/<case>.ckpt for every case
                                        (M: the file the os.system case would create)

Real checkpoints come from torch.save (python3-torch); crafted ones are written byte by byte
(pickle opcodes from CPython Lib/pickletools.py, zip records from PKWARE APPNOTE 6.3).
"""
import argparse
import collections
import io
import os
import pickle
import struct
import sys
import zipfile
import zlib

import numpy
import torch
import torch._utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lipreader import read_safetensors  # noqa: E402

MB = 1 << 20


# ---------------------------------------------------------------- zip writing
def zip_bytes(entries):
    """entries: (name, method, data, declared_size[, crc32]); data already compressed for method 8
    (a crafted stream has no true CRC: 0). Uses zip64 records when a size does not fit 32 bits."""
    out = io.BytesIO()
    central = []
    for name, method, data, size, *crc in entries:
        crc = crc[0] if crc else 0
        nb = name.encode()
        off = out.tell()
        big = size >= 0xffffffff or len(data) >= 0xffffffff
        extra = struct.pack('<HHQQ', 1, 16, size, len(data)) if big else b''
        out.write(struct.pack('<IHHHHHIIIHH', 0x04034b50, 45, 0, method, 0, 0, crc,
                              0xffffffff if big else len(data), 0xffffffff if big else size, len(nb), len(extra)))
        out.write(nb + extra + data)
        central.append((nb, method, len(data), size, off, big, crc))
    cd_off = out.tell()
    for nb, method, csize, size, off, big, crc in central:
        extra = struct.pack('<HHQQ', 1, 16, size, csize) if big else b''
        out.write(struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 45, 45, 0, method, 0, 0, crc,
                              0xffffffff if big else csize, 0xffffffff if big else size, len(nb), len(extra), 0, 0, 0, 0, off))
        out.write(nb + extra)
    cd_size = out.tell() - cd_off
    z64 = out.tell()
    out.write(struct.pack('<IQHHIIQQQQ', 0x06064b50, 44, 45, 45, 0, 0, len(central), len(central), cd_size, cd_off))
    out.write(struct.pack('<IIQI', 0x07064b50, 0, z64, 1))
    out.write(struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, len(central), len(central), cd_size, cd_off, 0))
    return out.getvalue()


def stored(name, data):
    return (name, 0, data, len(data), zlib.crc32(data))


def deflated(name, data):
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    return (name, 8, c.compress(data) + c.flush(), len(data), zlib.crc32(data))


def deflate_repeated(prefix, unit, times):
    """A raw deflate stream of prefix + unit*times, built without materialising it: after a full
    flush the compressor forgets its history, so every unit compresses to the same bytes."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    first = c.compress(unit) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(unit) + c.flush(zlib.Z_FULL_FLUSH)
    assert again == c.compress(unit) + c.flush(zlib.Z_FULL_FLUSH)
    return head + first + again * (times - 1) + c.flush()


def ckpt(pkl, extra=(), pkl_entry=None):
    """A torch.save-shaped zip: archive/data.pkl (+ byteorder, storages)."""
    return zip_bytes([pkl_entry or stored('archive/data.pkl', pkl), stored('archive/byteorder', b'little'), *extra])


# ---------------------------------------------------------------- pickle writing
def P(*parts):
    return b''.join(p if isinstance(p, bytes) else bytes([p]) for p in parts)


PROTO2 = b'\x80\x02'


class Storage:
    def __init__(self, key, numel, kind='FloatStorage'):
        self.key, self.numel, self.kind = key, numel, kind


class Tensor:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...), like torch.save."""
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', getattr(torch, obj.kind), obj.key, 'cpu', obj.numel)
        return None


def dumps(obj):
    f = io.BytesIO()
    Pickler(f, protocol=2).dump(obj)
    return f.getvalue()


def zip_of_torch_save(obj):
    f = io.BytesIO()
    torch.save(obj, f)
    return f.getvalue()


def rezip(data, change):
    """Rewrite a torch.save zip entry by entry; change(name, bytes) -> entry tuple or None (drop)."""
    entries = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            e = change(info.filename, z.read(info.filename))
            if e is not None:
                entries.append(e)
    return zip_bytes(entries)


def lightning_ckpt(sd, **extra):
    d = {'epoch': 3, 'global_step': 99, 'state_dict': collections.OrderedDict(('model.' + k, v) for k, v in sd.items())}
    d.update(extra)
    return d


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ('touch ' + self.marker,))


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', required=True)
    ap.add_argument('--dir', required=True)
    ap.add_argument('--marker', required=True, help='file the evil case would create')
    ap.add_argument('--only', help='comma-separated case names (default: all)')
    a = ap.parse_args(argv)
    sd, _ = read_safetensors(a.weights)
    cases = {}

    # ---- real checkpoints that must still import
    real = zip_of_torch_save(lightning_ckpt(sd))
    cases['ok_real'] = real
    cases['ok_deflated'] = rezip(real, lambda n, b: deflated(n, b))  # every entry deflated: exact-size inflate
    big = torch.zeros(1).expand(1 << 30)  # a stride-0 view: 4 GiB if materialised
    params = [torch.nn.Parameter(v.clone()) for v in sd.values() if v.is_floating_point()][:2]
    opt = torch.optim.Adam(params)
    sum((p ** 2).sum() for p in params).backward()
    opt.step()
    cases['ok_stride0_unused'] = zip_of_torch_save(lightning_ckpt(
        collections.OrderedDict(list(sd.items()) + [('extra_buffer', big)]),
        optimizer_states=[opt.state_dict()], callbacks={'ema': {'shadow': big}}))

    misfit = collections.OrderedDict(sd)
    misfit['fc_layer.bias'] = torch.zeros(1).expand(1 << 30)  # a wanted key, 4 GiB if materialised, wrong shape
    cases['stride0_wanted_misfit'] = zip_of_torch_save(lightning_ckpt(misfit))
    # a pickle that would run os.system if unpickled by Python: must stay inert
    cases['evil_os_system'] = zip_of_torch_save({'state_dict': collections.OrderedDict(
        [('model.' + k, v) for k, v in sd.items()] + [('model.evil', Evil(a.marker))]), 'epoch': Evil(a.marker)})

    # hand-written pickles that would run `touch MARKER` in Python's unpickler, one per route to a call
    m = a.marker.encode()
    sh = b"S'touch " + m + b"'\n"
    evil_inner = zip_of_torch_save({'x': Evil(a.marker)})
    payloads = {  # each one checked to run `touch MARKER` under Python's pickle.loads
        'reduce': b'cos\nsystem\n(' + sh + b'tR.',
        'obj': b'(cos\nsystem\n' + sh + b'o.',
        'inst': b'(' + sh + b'ios\nsystem\n.',
        'stack_global': b'\x80\x04\x8c\x02os\x8c\x06system\x93' + sh + b'\x85R.',
        'posix_system': b'cposix\nsystem\n(' + sh + b'tR.',
        'os_popen': b'cos\npopen\n(' + sh + b'tR.',
        'eval': b"cbuiltins\neval\n(S'__import__(\"os\").system(\"touch " + m + b"\")'\ntR.",
        'exec': b"c__builtin__\nexec\n(S'import os; os.system(\"touch " + m + b"\")'\ntR.",
        'subprocess': b"csubprocess\ncheck_call\n((S'touch'\nS'" + m + b"'\nttR.",
        'getattr_chain': b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR(" + sh + b'tR.',
        'attrgetter': b"coperator\nattrgetter\n(S'system'\ntR(cbuiltins\n__import__\n(S'os'\ntRtR(" + sh + b'tR.',
        'partial': b'cfunctools\npartial\n(cos\nsystem\n' + sh + b'tR)R.',
        'copyreg_init': b"ccopy_reg\n_reconstructor\n(csubprocess\nPopen\ncsubprocess\nPopen\n(S'touch'\nS'" + m + b"'\nltR.",
        'rebuild_tensor_args': PROTO2 + b'ctorch._utils\n_rebuild_tensor_v2\n(cos\nsystem\n' + sh + b'\x85RK\x00(K\x01t(K\x01t\x89NtR.',
        'rebuild_from_type_args': PROTO2 + b'ctorch._tensor\n_rebuild_from_type_v2\n(cos\nsystem\nN(' + sh + b'tNtR.',
        'ordereddict_args': b"ccollections\nOrderedDict\n(((cos\nsystem\n(" + sh + b"tRS'v'\ntltR.",
        'nested_pickle_loads': b"cpickle\nloads\n(c_codecs\nencode\n(S'cos\\nsystem\\n(" + sh[:-1].replace(b"'", b'\\x27') + b"\\ntR.'\nS'latin1'\ntRtR.",
        'nested_torch_load': b'\x80\x03ctorch.storage\n_load_from_bytes\nB' + struct.pack('<I', len(evil_inner)) + evil_inner + b'\x85R.',
    }
    for name, body in payloads.items():
        cases[f'exec_{name}'] = ckpt(body)

    # ---- the pickle VM
    cases['dup_bomb_300M'] = ckpt(None, pkl_entry=('archive/data.pkl', 8, deflate_repeated(PROTO2 + b'N', b'2' * MB, 300), 3 + 300 * MB))
    cases['dup_stack_6M'] = ckpt(None, pkl_entry=deflated('archive/data.pkl', PROTO2 + b'N' + b'2' * (6 * MB) + b'.'))
    cases['dup_pop_steps'] = ckpt(None, pkl_entry=('archive/data.pkl', 8, deflate_repeated(PROTO2 + b'N', b'20' * MB, 20), 3 + 40 * MB))
    cases['objects_1100k_dicts'] = ckpt(None, pkl_entry=deflated('archive/data.pkl', PROTO2 + b']' + b'}a' * (1100 * 1000) + b'.'))
    cases['items_5M'] = ckpt(None, pkl_entry=deflated('archive/data.pkl', PROTO2 + b']' + (b'(' + b'N' * 1000 + b'e') * 5000 + b'.'))
    puts = numpy.zeros(2300 * 1000, dtype=[('op', 'u1'), ('i', '<u4')])
    puts['op'] = ord('r')  # LONG_BINPUT i, 2.3M distinct memo keys
    puts['i'] = numpy.arange(len(puts))
    cases['memo_2300k'] = ckpt(None, pkl_entry=deflated('archive/data.pkl', PROTO2 + b'N' + puts.tobytes() + b'.'))
    # just under every limit at once (1.04M dicts of 3 items, 2.08M memo entries): parsed, then refused
    head = b'}(K\x01NK\x02NK\x03Nu'
    rows = numpy.zeros(1040 * 1000, dtype=[('h', f'S{len(head)}'), ('p1', 'u1'), ('i1', '<u4'), ('p2', 'u1'), ('i2', '<u4'), ('a', 'u1')])
    rows['h'], rows['p1'], rows['p2'], rows['a'] = head, ord('r'), ord('r'), ord('a')
    rows['i1'], rows['i2'] = numpy.arange(len(rows)) * 2, numpy.arange(len(rows)) * 2 + 1
    cases['all_limits_at_once'] = ckpt(None, pkl_entry=deflated('archive/data.pkl', PROTO2 + b']' + rows.tobytes() + b'.'))
    # OrderedDict(L) called again and again on one memoised list of 1M pairs
    pairs = PROTO2 + b'NN\x86q\x01]q\x00' + (b'(' + b'h\x01' * 1000 + b'e') * 1000 + b'0'
    cases['call_amplify'] = ckpt(pairs + b'ccollections\nOrderedDict\nq\x02' + b'h\x02h\x00\x85R0' * 1000 + b'N.')
    cases['unknown_opcode'] = ckpt(PROTO2 + b'N\xff.')
    cases['protocol5_oob'] = ckpt(b'\x80\x05\x97.')
    cases['binunicode_huge'] = ckpt(PROTO2 + b'X\xff\xff\xff\xffabc')
    cases['long4_huge_len'] = ckpt(PROTO2 + b'\x8b\xff\xff\xff\x7f\x00')
    cases['text_int_1M_digits'] = ckpt(b'L' + b'9' * MB + b'\n.')
    cases['self_ref_memo'] = ckpt(PROTO2 + b'}q\x00X\x01\x00\x00\x00ah\x00sX\x01\x00\x00\x00bh\x00s.')  # {'a': d, 'b': d} = d
    cases['list_key_self'] = ckpt(PROTO2 + b'}]q\x00h\x00a0h\x00Ns.')  # {[L] : None}, L contains itself

    # ---- keys over a shared DAG: hashing/stringifying them must not walk 2^40 nodes
    dag = PROTO2 + b']q\x00' + b''.join(P(b']h', i, b'ah', i, b'aq', i + 1) for i in range(40))
    cases['dag_tuple_key'] = ckpt(dag + b'}h\x28\x85Ns.')   # {(L40,): None}
    cases['dag_list_key'] = ckpt(dag + b'}h\x28Ns.')        # {L40: None}
    tdag = PROTO2 + b'Nq\x00' + b''.join(P(b'h', i, b'h', i, b'\x86q', i + 1) for i in range(40))
    cases['dag_nested_tuple_key'] = ckpt(tdag + b'}h\x28Ns.')  # {((..),(..)): None}, 2^40 leaves
    cases['deep_tuple_key'] = ckpt(PROTO2 + b'}N' + b'\x85' * 100000 + b'Ns.')  # {((((None,),),)...): None}
    cases['dag_list_value'] = ckpt(dag + b'}X\x01\x00\x00\x00kh\x28s.')  # {'k': L40}: fine, nothing walks it

    # ---- zip container
    bomb_unit = bytes(MB)
    zbomb = deflate_repeated(b'', bomb_unit, 4500)  # ~4.5 MB of deflate → 4.5 GiB
    cases['zipbomb_pkl_declared'] = ckpt(None, pkl_entry=('archive/data.pkl', 8, zbomb, 4500 * MB))
    cases['zipbomb_pkl_lying'] = ckpt(None, pkl_entry=('archive/data.pkl', 8, zbomb, 1000))
    # a wanted tensor's storage that inflates past its declared size (the declared size is honest for the pickle)
    pkl = dumps(collections.OrderedDict(('model.' + k, Tensor(Storage(str(i), v.numel(), 'FloatStorage' if v.dtype == torch.float32 else 'LongStorage'), 0, list(v.shape), list(torch.empty(v.shape).stride())))
                                        for i, (k, v) in enumerate(sd.items())))
    storages = []
    for i, (k, v) in enumerate(sd.items()):
        raw = v.contiguous().numpy().tobytes()
        if k == 'fc_layer.bias':
            storages.append((f'archive/data/{i}', 8, deflate_repeated(raw, bomb_unit, 4500), len(raw)))
        else:
            storages.append(stored(f'archive/data/{i}', raw))
    cases['zipbomb_storage_lying'] = ckpt(pkl, storages)
    cases['storage_declared_4G'] = ckpt(dumps({'state_dict': {'model.w': Tensor(Storage('0', 1 << 30), 0, [1 << 30], [1])}}),
                                        [('archive/data/0', 8, zbomb, 1 << 32)])
    cases['storage_size_mismatch'] = ckpt(dumps({'w': Tensor(Storage('0', 1000), 0, [1000], [1])}), [stored('archive/data/0', bytes(16))])
    cases['view_outside_storage'] = ckpt(dumps({'w': Tensor(Storage('0', 4), 2, [3, 3], [3, 1])}), [stored('archive/data/0', bytes(16))])
    cases['view_negative_stride'] = ckpt(dumps({'w': Tensor(Storage('0', 4), 3, [4], [-1])}), [stored('archive/data/0', bytes(16))])
    cases['view_rank_1000'] = ckpt(dumps({'w': Tensor(Storage('0', 4), 0, [1] * 1000, [1] * 1000)}), [stored('archive/data/0', bytes(16))])
    cases['storage_missing'] = ckpt(dumps({'w': Tensor(Storage('7', 4), 0, [4], [1])}))
    cases['truncated_zip'] = real[: len(real) // 2]
    cases['duplicate_entries'] = zip_bytes([stored('archive/data.pkl', PROTO2 + b'N.'), stored('archive/data.pkl', PROTO2 + b'}.')])
    cases['no_data_pkl'] = zip_bytes([stored('archive/data/0', bytes(16)), stored('archive/byteorder', b'little')])
    cases['entry_count_lie'] = real[:-22] + struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 0xfffe, 0xfffe, 100, 0, 0)
    leg = io.BytesIO()
    torch.save(lightning_ckpt(sd), leg, _use_new_zipfile_serialization=False)
    cases['legacy_truncated'] = leg.getvalue()[: len(leg.getvalue()) // 3]
    cases['empty_file'] = b''

    os.makedirs(a.dir, exist_ok=True)
    for name, data in cases.items():
        if a.only and name not in a.only.split(','):
            continue
        with open(os.path.join(a.dir, name + '.ckpt'), 'wb') as f:
            f.write(data)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
