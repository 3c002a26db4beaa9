#!/usr/bin/env python3
"""Checks Backprop's files with the Python libraries that define the formats.

Run by Tests/BackpropTests/InteropTests.swift (which skips when the modules do not import);
each command prints one JSON object on success and exits non-zero with a message on failure.

  onnx DIR                       every case in DIR/cases.json: onnx.checker.check_model, then
                                 onnxruntime's output (the case's "output", default
                                 probabilities) on the inputs against Backprop's (1e-5),
                                 on the whole batch and on a batch of one (dynamic batch size)
  safetensors-read FILE DIR [NPZ]  safetensors.numpy.load_file(FILE) equals DIR/<name>.npy for
                                 every tensor, and no others; numpy.load(NPZ) equals it too
  safetensors-write OUT X Y      writes a PyTorch-style nn.Sequential(Linear(4,5),
                                 BatchNorm1d(5), Tanh(), Linear(5,3)) state dict with
                                 safetensors.numpy.save_file, and Y = that network (inference
                                 form, computed here in float64 numpy) on inputs X
  torch-load FILE SPEC X Y       PyTorch (where installed): the nn.Sequential that SPEC (JSON:
                                 sizes, activation, batchnorm, dropout) describes, in PyTorch's
                                 own layer order, load_state_dict(FILE, strict=True), eval
                                 mode; its softmax on X against Backprop's Y (1e-5)
  tensorboard DIR                TensorBoard's event_accumulator on DIR: scalars and
                                 histograms as JSON; every record's masked CRC-32C checked
                                 with TensorBoard's own implementation
"""
import json
import os
import struct
import sys

import numpy as np


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def check_onnx(directory):
    import onnx
    import onnxruntime as ort

    with open(os.path.join(directory, "cases.json")) as f:
        cases = json.load(f)
    report = {}
    for case in cases:
        path = os.path.join(directory, case["model"])
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        if opset < 13 or model.ir_version not in (7, 8):
            fail(f"{case['name']}: opset {opset}, IR version {model.ir_version}")
        batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
        if not batch_dim.dim_param:
            fail(f"{case['name']}: the batch dimension is not symbolic: {batch_dim}")
        x = np.load(os.path.join(directory, case["input"]))
        expected = np.load(os.path.join(directory, case["expected"]))
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        output = case.get("output", "probabilities")
        if [o.name for o in model.graph.output] != [output]:
            fail(f"{case['name']}: outputs {[o.name for o in model.graph.output]}, expected [{output}]")
        (got,) = session.run([output], {"input": x})
        (one,) = session.run([output], {"input": x[:1]})
        if got.shape != expected.shape:
            fail(f"{case['name']}: output shape {got.shape}, Backprop's {expected.shape}")
        difference = float(np.max(np.abs(got - expected)))
        difference_one = float(np.max(np.abs(one - expected[:1])))
        # Regression values are in the data's units: compare relative to their scale.
        tolerance = 1e-5 * max(1.0, float(np.max(np.abs(expected)))) if output == "values" else 1e-5
        if not (difference <= tolerance and difference_one <= tolerance):
            fail(f"{case['name']}: max |onnxruntime − Backprop| = {difference:.3g} (batch of one: {difference_one:.3g}) > {tolerance:.3g}")
        row_sums = float(np.max(np.abs(got.sum(axis=1) - 1))) if output == "probabilities" and got.shape[1] > 1 else 0.0
        if row_sums > 1e-5:
            fail(f"{case['name']}: probabilities do not sum to 1 (off by {row_sums:.3g})")
        report[case["name"]] = {"max_abs_difference": difference, "rows": int(x.shape[0]),
                                "ops": sorted({n.op_type for n in model.graph.node})}
    print(json.dumps(report))


def check_safetensors_read(path, directory, npz=None):
    from safetensors.numpy import load_file

    tensors = load_file(path)
    expected = {name[:-4]: np.load(os.path.join(directory, name))
                for name in os.listdir(directory) if name.endswith(".npy")}
    if set(tensors) != set(expected):
        fail(f"tensor names differ: only in the file {sorted(set(tensors) - set(expected))}, "
             f"only expected {sorted(set(expected) - set(tensors))}")
    for name, value in tensors.items():
        want = expected[name]
        if value.dtype != want.dtype or value.shape != want.shape or not np.array_equal(value, want):
            fail(f"{name}: {value.dtype}{value.shape} differs from Backprop's {want.dtype}{want.shape}")
    if npz is not None:
        archive = np.load(npz)
        if set(archive.files) != set(tensors):
            fail(f"{npz}: keys {sorted(archive.files)} differ from the safetensors file's")
        for name in archive.files:
            if archive[name].dtype != tensors[name].dtype or not np.array_equal(archive[name], tensors[name]):
                fail(f"{npz}: {name} differs from the safetensors tensor")
    print(json.dumps({"tensors": len(tensors), "dtypes": sorted({str(v.dtype) for v in tensors.values()})}))


def write_safetensors(out, inputs_path, outputs_path):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    state = {
        "0.weight": f32(5, 4), "0.bias": f32(5),
        "1.weight": (1 + 0.1 * rng.standard_normal(5)).astype(np.float32), "1.bias": f32(5),
        "1.running_mean": f32(5), "1.running_var": rng.uniform(0.5, 2.0, 5).astype(np.float32),
        "1.num_batches_tracked": np.array(17, dtype=np.int64),
        "3.weight": f32(3, 5), "3.bias": f32(3),
    }
    save_file(state, out)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    d = {k: v.astype(np.float64) for k, v in state.items()}
    h = x.astype(np.float64) @ d["0.weight"].T + d["0.bias"]
    h = (h - d["1.running_mean"]) / np.sqrt(d["1.running_var"] + 1e-5) * d["1.weight"] + d["1.bias"]
    y = np.tanh(h) @ d["3.weight"].T + d["3.bias"]
    np.save(inputs_path, x)
    np.save(outputs_path, y.astype(np.float32))
    print(json.dumps({"tensors": len(state)}))


def check_torch_load(path, spec_json, inputs_path, expected_path):
    import torch
    from safetensors.torch import load_file

    spec = json.loads(spec_json)
    activations = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
    sizes, layers = spec["sizes"], []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            if spec["batchnorm"]:
                layers.append(torch.nn.BatchNorm1d(sizes[i + 1]))
            layers.append(activations[spec["activation"]]())
            if spec["dropout"] > 0:
                layers.append(torch.nn.Dropout(spec["dropout"]))
    net = torch.nn.Sequential(*layers)
    net.load_state_dict(load_file(path), strict=True)
    net.eval()
    with torch.no_grad():
        p = torch.softmax(net(torch.from_numpy(np.load(inputs_path))), dim=1).numpy()
    difference = float(np.abs(p - np.load(expected_path)).max())
    if not difference <= 1e-5:
        fail(f"max |PyTorch − Backprop| = {difference:.3g} > 1e-5")
    print(json.dumps({"max_abs_difference": difference, "modules": [type(m).__name__ for m in net]}))


def check_tensorboard(directory):
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    records = 0
    for name in os.listdir(directory):
        if "tfevents" not in name:
            continue
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            header = data[offset:offset + 8]
            (length,) = struct.unpack("<Q", header)
            (header_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
            body = data[offset + 12:offset + 12 + length]
            (body_crc,) = struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])
            if header_crc != masked_crc32c(header) or body_crc != masked_crc32c(body):
                fail(f"{name}: record at byte {offset} has a wrong masked CRC-32C")
            records += 1
            offset += 16 + length
    accumulator = ea.EventAccumulator(directory, size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    scalars = {tag: [[e.step, e.value] for e in accumulator.Scalars(tag)] for tag in tags["scalars"]}
    histograms = {}
    for tag in tags["histograms"]:
        h = accumulator.Histograms(tag)[-1]
        v = h.histogram_value
        histograms[tag] = {"step": h.step, "min": v.min, "max": v.max, "num": v.num, "sum": v.sum,
                           "sum_squares": v.sum_squares, "bucket_limit": list(v.bucket_limit),
                           "bucket": list(v.bucket)}
    print(json.dumps({"records": records, "scalars": scalars, "histograms": histograms}))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:] or ["help"]
    commands = {"onnx": check_onnx, "safetensors-read": check_safetensors_read,
                "safetensors-write": write_safetensors, "torch-load": check_torch_load,
                "tensorboard": check_tensorboard}
    if command not in commands:
        fail(__doc__)
    commands[command](*arguments)
