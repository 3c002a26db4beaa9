#!/usr/bin/env bash
# Writes the fuzzers' seed corpora, Fuzz/corpus/<reader>/: small valid files of each format (the
# fuzzer mutates them, so each should reach deep into its reader). Rerun after a file format
# changes (the model and checkpoint seeds come from `backprop train`), then commit the result.
#
# Usage: Fuzz/make-seeds.sh   (needs python3 and a release build of backprop)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
corpus=Fuzz/corpus
mkdir -p $corpus/{csv,idx,npy,png,model,checkpoint}

python3 - "$corpus" <<'PY'
import struct, sys, zlib
corpus = sys.argv[1]
def put(name, data):
    with open(f"{corpus}/{name}", "wb") as f: f.write(data)
# CSV: a header, none, a byte-order mark and CRLF, quoted names, regression targets.
put("csv/header.csv", b"x1,x2,label\n0.5,-1.25,0\n1e-3,2,1\n3,4.5,2\n")
put("csv/no-header.csv", b"1,2,3,0\n4,5,6,1\n7,8,9,1\n")
put("csv/bom-crlf.csv", b"\xef\xbb\xbf\"a\",\"b\",y\r\n1,2,1\r\n3,4,0\r\n")
put("csv/regression.csv", b"x,target\n0.1,0.2\n0.3,0.4\n-0.5,1e2\n")
# IDX: unsigned bytes (images, labels), float32 and int32, big-endian as the format says.
def idx(code, shape, payload):
    return struct.pack(">BBBB", 0, 0, code, len(shape)) + b"".join(struct.pack(">I", d) for d in shape) + payload
put("idx/images.idx", idx(0x08, [2, 3, 3], bytes(range(18))))
put("idx/labels.idx", idx(0x08, [4], bytes([0, 1, 2, 9])))
put("idx/float.idx", idx(0x0D, [2, 2], struct.pack(">4f", 0.5, -1, 2, 3.25)))
put("idx/int.idx", idx(0x0C, [3], struct.pack(">3i", -1, 0, 7)))
# .npy version 1.0: magic, header length, a Python dict padded to 64 bytes, data.
def npy(descr, shape, payload, fortran=False):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", "".join(f"{d}, " for d in shape).rstrip(" ") if len(shape) != 1 else f"{shape[0]},")
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload
put("npy/float32.npy", npy("<f4", [2, 3], struct.pack("<6f", 0, 1, 2, 3, 4, 5)))
put("npy/uint8.npy", npy("|u1", [4], bytes([0, 1, 2, 3])))
put("npy/float64.npy", npy("<f8", [2, 2], struct.pack("<4d", 0.5, 1.5, -2, 3), fortran=True))
put("npy/int64.npy", npy("<i8", [3], struct.pack("<3q", 0, 1, 2)))
# PNG: 8-bit gray 4×4 and RGBA 2×2 (colour type 6), one filter byte per row.
def png(width, height, colour, channels, pixels):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + pixels[y * width * channels:(y + 1) * width * channels] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
put("png/gray.png", png(4, 4, 0, 1, bytes(range(0, 256, 16))))
put("png/rgba.png", png(2, 2, 6, 4, bytes(range(16))))
PY

# Model files and checkpoints as training writes them: a network, one with batch normalization,
# a regression, an ensemble and a mixture of experts (tiny, one epoch).
backprop="$(swift build -c release --show-bin-path)/backprop"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
train() { "$backprop" train --examples 24 --epochs 1 --batch-size 4 --quiet --out "$work/$1" "${@:2}" > /dev/null; }
train network --dataset moons --layers 2,4,2
train batchnorm --dataset moons --layers 2,4,2 --batchnorm
train regression --dataset sine --layers 1,4,1
train ensemble --dataset moons --layers 2,4,2 --ensemble 2
train experts --dataset moons --experts 2 --expert-layers 4
for run in network batchnorm regression ensemble experts; do
    cp "$work/$run/model.safetensors" "$corpus/model/$run.safetensors"
done
for run in network batchnorm regression; do
    cp "$work/$run/checkpoint.safetensors" "$corpus/checkpoint/$run.safetensors"
done
ls -l $corpus/*
