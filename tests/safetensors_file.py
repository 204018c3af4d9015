"""Reads a safetensors file (fcam's checkpoints and the reference files) into numpy arrays, for the
command-line tests: no safetensors package is needed."""
import json
import struct

import numpy as np

TYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path):
    """The tensors of the file at `path`, by name (read-only arrays of their stored type and shape)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], TYPES[v["dtype"]]).reshape(v["shape"])
            for k, v in header.items() if k != "__metadata__"}
