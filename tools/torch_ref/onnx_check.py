#!/usr/bin/python3
"""Run the official ONNX checker (Debian python3-onnx) on model files.

  /usr/bin/python3 tools/torch_ref/onnx_check.py a.onnx b.onnx ...

Prints one JSON object: {file: {"ok": bool, "error": str|None, "opset": int, "ir_version": int,
"nodes": int, "ops": [op types], "metadata": {k: v}, "inputs"/"outputs": {name: dims}}}. full_check=True also runs strict shape
inference, so shape/type mistakes in the graph are reported too.
"""
import json
import sys

import onnx


def dims(value_info):
    """Shape of a graph input/output: ints for fixed dims, names for symbolic ones."""
    return [d.dim_value if d.HasField('dim_value') else d.dim_param
            for d in value_info.type.tensor_type.shape.dim]


def check(path):
    try:
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        return dict(ok=True, error=None, ir_version=m.ir_version,
                    opset=max(o.version for o in m.opset_import if o.domain in ('', 'ai.onnx')),
                    nodes=len(m.graph.node), ops=sorted({n.op_type for n in m.graph.node}),
                    metadata={p.key: p.value for p in m.metadata_props},
                    inputs={i.name: dims(i) for i in m.graph.input},
                    outputs={o.name: dims(o) for o in m.graph.output})
    except Exception as e:  # report, do not crash: the test asserts on it
        return dict(ok=False, error=f'{type(e).__name__}: {e}')


if __name__ == '__main__':
    print(json.dumps({p: check(p) for p in sys.argv[1:]}))
