#!/usr/bin/env python3
"""Write a GGUF file with the official `gguf` package (gguf-py) for our reader
to read: every scalar type, arrays, F32/F16 tensors and raw quantized blocks.

usage: gguf_write_fixture.py OUT.gguf
"""
import sys

import gguf
import numpy as np


def main():
    out = sys.argv[1]
    w = gguf.GGUFWriter(out, arch="llama")
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -2_000_000_000)
    w.add_uint64("t.u64", 2**64 - 1)
    w.add_int64("t.i64", -2**63)
    w.add_float32("t.f32", 0.125)
    w.add_float64("t.f64", -2.5e300)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo ▁world")
    w.add_array("t.strs", ["<s>", "</s>", "▁the"])
    w.add_array("t.f32s", [0.0, -1.5, 3.25])
    w.add_array("t.i32s", [1, -2, 3])
    w.add_block_count(2)
    w.add_context_length(4096)

    rng = np.random.default_rng(7)
    w.add_tensor("output_norm.weight", rng.standard_normal(64).astype(np.float32))
    w.add_tensor("token_embd.weight", rng.standard_normal((3, 64)).astype(np.float16))
    q4k = rng.integers(0, 256, size=(2, 144 * 2), dtype=np.uint8)  # 2 rows of 512 Q4_K values
    w.add_tensor("blk.0.attn_q.weight", q4k, raw_dtype=gguf.GGMLQuantizationType.Q4_K)
    q8 = rng.integers(0, 256, size=(4, 34), dtype=np.uint8)  # 4 rows of 32 Q8_0 values
    w.add_tensor("blk.0.attn_v.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
