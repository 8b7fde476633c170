#!/usr/bin/env python3
"""Dump a GGUF file as JSON using the official `gguf` package (gguf-py), the
independent implementation our reader and writer are checked against.

usage: gguf_dump.py FILE [--hash]   (--hash adds a sha256 of each tensor's data)
Arrays are summarised as {"len", "head" (first 4 items), "last"} so that huge
vocabularies compare cheaply; tests/gguf_python.rs builds the same summary.
"""
import hashlib
import json
import sys

import gguf

TYPE_NAMES = {
    gguf.GGUFValueType.UINT8: "u8", gguf.GGUFValueType.INT8: "i8",
    gguf.GGUFValueType.UINT16: "u16", gguf.GGUFValueType.INT16: "i16",
    gguf.GGUFValueType.UINT32: "u32", gguf.GGUFValueType.INT32: "i32",
    gguf.GGUFValueType.UINT64: "u64", gguf.GGUFValueType.INT64: "i64",
    gguf.GGUFValueType.FLOAT32: "f32", gguf.GGUFValueType.FLOAT64: "f64",
    gguf.GGUFValueType.BOOL: "bool", gguf.GGUFValueType.STRING: "string",
    gguf.GGUFValueType.ARRAY: "array",
}
PSEUDO_FIELDS = {"GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}


def summarise(value):
    if isinstance(value, list):
        return {"len": len(value), "head": [summarise(v) for v in value[:4]],
                "last": summarise(value[-1]) if value else None}
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, str)):
        return value
    return value.item() if hasattr(value, "item") else value


def main():
    path = sys.argv[1]
    with_hash = "--hash" in sys.argv[2:]
    reader = gguf.GGUFReader(path)
    fields = []
    for key, field in reader.fields.items():
        if key in PSEUDO_FIELDS:
            continue
        fields.append({"key": key, "types": [TYPE_NAMES[t] for t in field.types],
                       "value": summarise(field.contents())})
    tensors = []
    for t in reader.tensors:
        entry = {"name": t.name, "type": t.tensor_type.name, "shape": [int(d) for d in t.shape],
                 "n_bytes": int(t.n_bytes), "file_offset": int(t.data_offset)}
        if with_hash:
            entry["sha256"] = hashlib.sha256(t.data.tobytes()).hexdigest()
        tensors.append(entry)
    json.dump({"version": int(reader.fields["GGUF.version"].contents()), "alignment": int(reader.alignment),
               "data_offset": int(reader.data_offset), "fields": fields, "tensors": tensors}, sys.stdout)


if __name__ == "__main__":
    main()
