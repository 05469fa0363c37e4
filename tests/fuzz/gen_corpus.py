"""Seeds for the safetensors fuzz target (tests/fuzz/corpus/safetensors): small valid files
of each dtype, with metadata, scalars, empty tensors and escapes, and one of each kind of
malformed file. Plain Python, no packages. Run from the repository root:
  python3 tests/fuzz/gen_corpus.py
"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")


def raw(header, data=b"", pad=True):
    h = header.encode() if isinstance(header, str) else header
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def valid():
    files = {}
    files["f32"] = raw(json.dumps({"w": entry("F32", [2, 3], 0, 24)}), bytes(range(24)))
    files["meta"] = raw(json.dumps({"__metadata__": {"format": "pt", "k\u00e9y": "v\"a\\l\n"},
                                    "a.weight": entry("F32", [1], 0, 4)}), b"\0\0\x80\x3f")
    files["dtypes"] = raw(json.dumps({
        "i64": entry("I64", [], 0, 8), "f64": entry("F64", [1], 8, 16), "i32": entry("I32", [2], 16, 24),
        "f16": entry("F16", [2], 24, 28), "bf": entry("BF16", [1], 28, 30), "u8": entry("U8", [2], 30, 32),
        "b": entry("BOOL", [1], 32, 33), "e": entry("F8_E4M3", [0, 4], 33, 33)}), bytes(33))
    files["five_dims"] = raw(json.dumps({"t": entry("F32", [1, 2, 1, 2, 1], 0, 16)}), bytes(16))
    files["empty"] = raw("{}")
    files["escapes"] = raw('{"\\u00e9\\ud83d\\ude00\\t\\"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x")
    files["order"] = raw(json.dumps({"b": entry("F32", [1], 4, 8), "a": entry("F32", [1], 0, 4)}), bytes(8))
    return files


def malformed():
    f = {}
    f["short"] = b"\x08\0\0\0"
    f["hlen_past_end"] = struct.pack("<Q", 1000) + b"{}"
    f["hlen_huge"] = b"\xff" * 8 + b"{}"
    f["not_object"] = raw("[1,2]")
    f["bad_json"] = raw('{"w":{"dtype":"F32",', pad=False)
    f["bad_utf8"] = raw(b'{"\xc3\x28":1}')
    f["deep"] = raw('{"w":' + "[" * 200)
    f["out_of_range"] = raw(json.dumps({"w": entry("F32", [2], 0, 8)}), bytes(4))
    f["overlap"] = raw(json.dumps({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}), bytes(12))
    f["hole"] = raw(json.dumps({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}), bytes(12))
    f["size_mismatch"] = raw(json.dumps({"w": entry("F32", [3], 0, 8)}), bytes(8))
    f["bad_dtype"] = raw(json.dumps({"w": entry("Q8", [2], 0, 2)}), bytes(2))
    f["shape_overflow"] = raw(json.dumps({"w": entry("F32", [2**32, 2**32, 4], 0, 4)}), bytes(4))
    f["negative"] = raw(json.dumps({"w": entry("F32", [-1], 0, 4)}), bytes(4))
    f["six_dims"] = raw(json.dumps({"w": entry("F32", [1] * 6, 0, 4)}), bytes(4))
    f["duplicate"] = raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                         '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', bytes(2))
    f["meta_not_string"] = raw('{"__metadata__":{"a":1}}')
    f["offsets_reversed"] = raw(json.dumps({"w": entry("F32", [2], 8, 0)}), bytes(8))
    f["huge_offsets"] = raw(json.dumps({"w": entry("F32", [2], 2**64 - 8, 2**64 - 1)}), bytes(8))
    return f


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in {**valid(), **{"bad_" + k: v for k, v in malformed().items()}}.items():
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as fh:
            fh.write(data)
    print(f"wrote {len(valid()) + len(malformed())} seeds to {OUT}")
