"""Parameter-name maps from well-known public checkpoints to this zoo's names, so a user's
teacher loads with ``--teacher-arch NAME`` as it was published.

``trades_wrn``: the WideResNet of the TRADES repository (Zhang et al., ICML 2019; also used by
MART, ARD and RSLAD releases): ``conv1``, ``block{1,2,3}.layer.{j}.{bn1,conv1,bn2,conv2,convShortcut}``,
``bn1``, ``fc``, plus an unused ``sub_block1``. Its blocks are the same pre-activation blocks as
ours. Its models take raw [0, 1] images (the repository trains without normalisation), so the
map sets mean 0 / std 1 in the contract instead of our CIFAR defaults.
"""

from __future__ import annotations

import re

import torch

_BLOCK = re.compile(r"block(\d)\.layer\.(\d+)\.(.*)")


def trades_wrn(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict] | None:
    """(renamed state, extra create_model kwargs), or None when ``state`` is not in TRADES' naming."""
    if not any(key.startswith("block1.layer.") for key in state):
        return None
    per_stage = 1 + max(int(m.group(2)) for key in state if (m := _BLOCK.match(key)) and m.group(1) == "1")
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("sub_block"):
            continue  # defined by TRADES' WideResNet but never used in its forward
        if match := _BLOCK.match(key):
            stage, index, rest = int(match.group(1)), int(match.group(2)), match.group(3)
            out[f"blocks.{(stage - 1) * per_stage + index}.{rest.replace('convShortcut', 'shortcut')}"] = value
        elif key.startswith("conv1."):
            out["stem." + key[len("conv1."):]] = value
        elif key.startswith("bn1."):
            out["bn." + key[len("bn1."):]] = value
        else:
            out[key] = value
    channels = int(out["stem.weight"].shape[1])
    out["normalize.mean"] = torch.zeros(1, channels, 1, 1)
    out["normalize.std"] = torch.ones(1, channels, 1, 1)
    kwargs = {"widen_factor": int(out["blocks.0.conv1.weight"].shape[0]) // 16, "depth": 6 * per_stage + 4,
              "mean": (0.0,) * channels, "std": (1.0,) * channels}
    return out, kwargs


KEY_MAPS = {"wrn_34_10": trades_wrn}
