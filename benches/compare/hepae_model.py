"""Load a hepae model file into PyTorch: the normaliser from its metadata and an
nn.Sequential pair built from its layer sizes, with weights from safetensors.torch."""
import json

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file


def load(path):
    """Returns (meta, encoder, decoder) for a hepae model file."""
    with safe_open(path, framework="pt") as f:
        meta = json.loads(f.metadata()["hepae"])
    if meta["kind"] != "ae":
        raise SystemExit(f"{path}: model kind {meta['kind']} is not handled by this script")
    shape = meta["shape"]
    slope = shape["slope"]
    enc_dims = [shape["input"], *shape["hidden"], shape["latent"]]
    dec_dims = [shape["latent"], *reversed(shape["hidden"]), shape["input"]]
    nn = torch.nn

    def stack(dims, leaky_last):
        mods = []
        for j in range(len(dims) - 1):
            mods.append(nn.Linear(dims[j], dims[j + 1]))
            if j < len(dims) - 2 or leaky_last:
                mods.append(nn.LeakyReLU(slope))
        return nn.Sequential(*mods)

    enc = stack(enc_dims, True)  # the bottleneck is followed by LeakyReLU
    dec = stack(dec_dims, shape["output_activation"] == "leaky")
    state = load_file(path)
    enc.load_state_dict({k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")})
    dec.load_state_dict({k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")})
    return meta, enc.eval(), dec.eval()


def normalize(meta, x):
    """Physical units -> model space, column by column, in float64."""
    y = np.array(x, dtype=np.float64)
    for j, t in enumerate(meta["normalizer"]["transforms"]):
        kind = t["transform"]
        if kind == "affine":
            y[:, j] = (y[:, j] - t["shift"]) / t["scale"]
        elif kind == "log10_pt":
            y[:, j] = (np.log10(y[:, j] * t["to_gev"]) - 1.3) / 1.2
        elif kind == "log10_mass":
            y[:, j] = np.log10(y[:, j] * t["to_gev"] + 1.0) / 1.8
        else:
            raise SystemExit(f"unknown transform {kind}")
    return y


def denormalize(meta, y):
    """Model space -> physical units."""
    x = np.array(y, dtype=np.float64)
    for j, t in enumerate(meta["normalizer"]["transforms"]):
        kind = t["transform"]
        if kind == "affine":
            x[:, j] = x[:, j] * t["scale"] + t["shift"]
        elif kind == "log10_pt":
            x[:, j] = 10.0 ** (1.2 * x[:, j] + 1.3) / t["to_gev"]
        elif kind == "log10_mass":
            x[:, j] = (10.0 ** (1.8 * x[:, j]) - 1.0) / t["to_gev"]
    return x
