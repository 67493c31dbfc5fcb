"""A teacher published in the TRADES repository's WideResNet naming loads as our wrn_34_10."""

import re

import torch

from dfard_pipeline.checkpoint import load_teacher
from dfard_pipeline.models import create_model


def to_trades_naming(state, per_stage):
    """Our names -> TRADES' (the inverse of the loader's map), as a published checkpoint has them."""
    out = {}
    for key, value in state.items():
        if key.startswith("normalize."):
            continue  # TRADES' model has no normalisation layer
        if match := re.match(r"blocks\.(\d+)\.(.*)", key):
            index = int(match.group(1))
            rest = match.group(2).replace("shortcut", "convShortcut")
            out[f"block{index // per_stage + 1}.layer.{index % per_stage}.{rest}"] = value
        elif key.startswith("stem."):
            out["conv1." + key[5:]] = value
        elif key.startswith("bn."):
            out["bn1." + key[3:]] = value
        else:
            out[key] = value
    out["sub_block1.layer.0.bn1.weight"] = torch.ones(16)  # present in TRADES' files, unused
    return out


def test_trades_wrn_state_dict_loads_with_raw_pixel_contract(tmp_path):
    torch.manual_seed(0)
    ours = create_model("wrn_34_10", widen_factor=1, depth=10, mean=(0.0,) * 3, std=(1.0,) * 3).eval()
    torch.save({"state_dict": {"module." + k: v for k, v in to_trades_naming(ours.state_dict(), 1).items()}},
               tmp_path / "trades.pt")
    loaded = load_teacher(tmp_path / "trades.pt", arch="wrn_34_10")
    assert loaded.contract.mean == (0.0, 0.0, 0.0) and loaded.contract.std == (1.0, 1.0, 1.0)
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), ours(x))
