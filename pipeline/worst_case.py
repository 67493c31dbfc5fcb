"""The per-sample worst case over attacks, the one robust-accuracy rule of this project: an image
counts as robust only when it is classified correctly clean and under every attack run. Used by
white-box evaluation (``evaluation/robustness.py``), verify on a runtime (``runtime/robustness.py``),
``--collect`` and verify's device script, which runs where neither PyTorch nor this package is
installed: so this module imports only numpy, and ``verify --bundle`` copies it beside the script."""

import numpy as np


def summarise(correct):
    """``correct``: ``{"clean": bools, attack name: bools, ...}`` over the same images, in that order.
    Returns clean accuracy, robust accuracy (per-sample worst case: clean and every attack) and each
    attack's accuracy, as fractions in [0, 1]."""
    clean = np.asarray(correct["clean"], dtype=bool)
    worst = clean.copy()
    attacks = {}
    for name, ok in correct.items():
        if name == "clean":
            continue
        ok = np.asarray(ok, dtype=bool)
        if ok.shape != clean.shape:
            raise ValueError(f"attack {name!r} judged {ok.shape} images, clean {clean.shape}")
        attacks[name] = _mean(ok)
        worst &= ok
    return {"clean_accuracy": _mean(clean), "robust_accuracy": _mean(worst), "attacks": attacks,
            "n": int(clean.size)}


def _mean(values):
    return float(values.mean()) if values.size else 0.0
