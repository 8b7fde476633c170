#!/usr/bin/env python3
"""Writes the float32 input for the quantizer golden files: 16 blocks of 256
values with the shapes that stress a quantizer (tiny, huge, constant, one
outlier, all positive, all negative, sparse, below ggml's zero threshold...).

usage: gen_input.py OUT.f32
"""
import sys

import numpy as np

rng = np.random.default_rng(20261127)
n = 256
blocks = [
    rng.standard_normal(n),                                   # typical weights
    rng.standard_normal(n) * 1e-3,                            # small scale
    np.concatenate([rng.uniform(-1, 1, n - 1), [50.0]]),      # one outlier
    np.zeros(n),                                              # all zero
    np.full(n, 0.5),                                          # constant
    rng.uniform(0.1, 2.0, n),                                 # all positive
    -rng.uniform(0.1, 2.0, n),                                # all negative
    np.where(rng.uniform(size=n) < 0.05, rng.standard_normal(n), 0.0),  # sparse
    rng.standard_normal(n) * 1000.0,                          # large
    rng.standard_normal(n) * 1e-20,                           # below GROUP_MAX_EPS
    0.1 + 2.0 * np.cos(np.arange(n)),                         # test-quantize-fns signal
    rng.standard_t(2.0, n),                                   # heavy tails
    rng.standard_normal(n) * np.linspace(0.01, 3.0, n),      # growing scale
    np.round(rng.standard_normal(n) * 4) / 4,                 # on a grid
    rng.laplace(0.0, 0.05, n),                                # peaked
    rng.standard_normal(n) + 3.0,                             # offset
]
np.concatenate(blocks).astype("<f4").tofile(sys.argv[1])
