"""Gates and warnings of a verify run, from its measurements as plain data (the ``to_dict()`` views
verify.json holds), so the same verdict is reached wherever the runtime half ran: in verify's own
process, or on a device from a bundle (``verify --collect``)."""

from __future__ import annotations

from dfard_pipeline.artifacts.verify_result import Gate

MASKING_GAP = 0.05  # transfer accuracy this far above Square's: suspect gradient masking


def _gate(name: str, value, threshold, passed: bool | None, note: str = "") -> dict:
    return Gate(name, value, threshold, passed, note).to_dict()


def evaluate_gates(profile, precision: str, metrics: dict, reference: dict, parity: dict, latency: dict,
                   emulated: bool) -> list[dict]:
    """Each gate of ``profile`` on the runtime's ``metrics`` against the ``reference``'s; ``passed`` is
    None for a gate that is not evaluated (latency when emulated)."""
    gates = []
    for name, result in parity.items():
        floor = profile.gates.parity_floor(precision, name)
        gates.append(_gate(f"parity_top1_{name}", result["top1_agreement"], floor, result["top1_agreement"] >= floor))
    clean_drop = reference["clean_accuracy"] - metrics["clean_accuracy"]
    robust_drop = reference["robust_accuracy"] - metrics["robust_accuracy"]
    gates.append(_gate("clean_accuracy_drop", clean_drop, profile.gates.max_clean_drop,
                       clean_drop <= profile.gates.max_clean_drop))
    gates.append(_gate("robust_accuracy_drop", robust_drop, profile.gates.max_robust_drop,
                       robust_drop <= profile.gates.max_robust_drop))
    if profile.gates.max_p99_ms_batch1 is not None and "1" in latency:
        p99 = latency["1"]["p99_ms"]
        if emulated:
            gates.append(_gate("p99_ms_batch1", p99, profile.gates.max_p99_ms_batch1, None,
                               "not gated: emulated, this is host latency, not the device's"))
        else:
            gates.append(_gate("p99_ms_batch1", p99, profile.gates.max_p99_ms_batch1,
                               p99 <= profile.gates.max_p99_ms_batch1))
    return gates


def warnings_for(metrics: dict, reference: dict, latency: dict, data_note: str | None) -> list[str]:
    """What a reader of the numbers should know: masking, blunted Square, unstable timing, synthetic data."""
    warnings = []
    attacks = metrics["attacks"]
    transfer_min = min(v for k, v in attacks.items() if k.startswith("transfer_"))
    if transfer_min - attacks["square"] > MASKING_GAP:
        warnings.append(f"possible gradient masking: the runtime resists transfer attacks ({transfer_min:.1%}) "
                        f"far better than the black-box Square attack ({attacks['square']:.1%})")
    if attacks["square"] - reference["attacks"]["square"] > MASKING_GAP:
        warnings.append("Square finds fewer adversarial examples on the runtime "
                        f"({attacks['square']:.1%} robust) than on the reference "
                        f"({reference['attacks']['square']:.1%}): quantised or low-precision logits flatten "
                        "the margin Square searches on, which is not robustness; the transfer attacks set the "
                        "worst case here")
    if metrics.get("flat_logits_fraction", 0.0) > FLAT_LOGITS:
        warnings.append(f"{metrics['flat_logits_fraction']:.0%} of the runtime's clean logits are flat apart from the "
                        "top class (one-hot-like): scores carry no margin for Square or gradients to follow, so "
                        "robust accuracy here says little; check the artifact's output layer")
    for size, stats in latency.items():
        if stats["unstable"]:
            warnings.append(f"latency at batch {size} is unstable (cv {stats['cv']:.2f}): a busy or throttling host")
    if data_note:
        warnings.append(data_note)
    return warnings


FLAT_LOGITS = 0.5  # more than this share of one-hot-like rows: the logits are not a classifier's scores


def flat_logits_fraction(logits) -> float:
    """The share of rows whose logits, apart from the largest, are all equal (a one-hot output)."""
    import numpy as np

    values = np.sort(np.asarray(logits, dtype=np.float64), axis=1)[:, :-1]
    if values.shape[1] < 2 or len(values) == 0:
        return 0.0
    return float((np.ptp(values, axis=1) == 0).mean())


def passed(gates: list[dict]) -> bool:
    return all(g["passed"] is not False for g in gates)
