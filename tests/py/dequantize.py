#!/usr/bin/env python3
"""Dequantize raw blocks with the official `gguf` package (gguf.quants, numpy),
the independent reference for our dequantizers.

usage: dequantize.py DIR   -- for each DIR/NAME.TYPE.bin writes DIR/NAME.TYPE.f32
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType, quants


def main():
    folder = sys.argv[1]
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".bin"):
            continue
        type_name = name.split(".")[-2]
        qtype = GGMLQuantizationType[type_name]
        raw = np.fromfile(os.path.join(folder, name), dtype=np.uint8)
        values = quants.dequantize(raw, qtype).astype("<f4").reshape(-1)
        values.tofile(os.path.join(folder, name[: -len(".bin")] + ".f32"))


if __name__ == "__main__":
    main()
