"""The run report's figures (matplotlib, Agg backend): each function takes plain data and returns
PNG bytes, so the report embeds them in HTML and writes them beside the Markdown."""

from __future__ import annotations

import io

import numpy as np


def _figure(width: float = 9.0, height: float = 3.2, ncols: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False)
    return plt, fig, axes[0]


def _png(plt, fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def training_curves(history: list[dict]) -> bytes:
    """Losses, temperature, AGB weights and robust agreement per epoch."""
    plt, fig, (ax_loss, ax_tau, ax_w, ax_agree) = _figure(13, 3.2, 4)
    epochs = [r["epoch"] for r in history]
    ax_loss.plot(epochs, [r["loss_student"] for r in history], label="student")
    ax_loss.plot(epochs, [r["generator_terms"]["total"] for r in history], label="generator")
    ax_loss.set_yscale("symlog")
    ax_loss.set_title("losses")
    ax_loss.legend()
    ax_tau.plot(epochs, [r["tau"] for r in history], color="tab:red")
    ax_tau.set_title("temperature tau (ITA)")
    for term in history[0]["weights"]:
        ax_w.plot(epochs, [r["weights"][term] for r in history], label=term)
    ax_w.set_title("generator weights (AGB)")
    ax_w.legend(fontsize=8)
    ax_agree.plot(epochs, [100 * r["robust_agreement"] for r in history], color="tab:green")
    ax_agree.set_title("robust agreement, probe (%)")
    for ax in (ax_loss, ax_tau, ax_w, ax_agree):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    return _png(plt, fig)


def sample_grid(images: np.ndarray, labels: np.ndarray, num_classes: int, per_class: int = 8) -> bytes:
    """Generator samples, one row per class the teacher assigns them to."""
    plt, fig, _ = _figure(per_class * 0.9, num_classes * 0.9)
    fig.clf()
    for row in range(num_classes):
        picks = np.flatnonzero(labels == row)[:per_class]
        for col in range(per_class):
            ax = fig.add_subplot(num_classes, per_class, row * per_class + col + 1)
            ax.axis("off")
            if col < len(picks):
                image = images[picks[col]].transpose(1, 2, 0)
                ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
            if col == 0:
                ax.set_title(f"class {row}", fontsize=7, loc="left")
    return _png(plt, fig)


def robustness_vs_eps(curves: dict[str, tuple[list[float], list[float]]], eps: float) -> bytes:
    plt, fig, (ax,) = _figure(6.5, 3.6)
    styles = [("o", "-"), ("s", "-"), ("^", "--"), ("v", ":"), ("D", "-."), ("x", "--")]
    for (name, (eps_values, accuracy)), (marker, line) in zip(curves.items(), styles * 3, strict=False):
        # artifacts often coincide with the student: distinct markers and lines keep each visible
        ax.plot(eps_values, [100 * a for a in accuracy], marker=marker, linestyle=line, label=name, alpha=0.85)
    ax.axvline(eps, color="gray", linestyle="--", linewidth=1, label=f"eps = {eps:g}")
    ax.set_xlabel("eps (L-inf, [0,1] pixels)")
    ax.set_ylabel("accuracy under PGD-20 (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(plt, fig)


def latency_distributions(samples: dict[str, list[float]]) -> bytes:
    """Box plots of every timed run, one box per (artifact, device, batch)."""
    plt, fig, (ax,) = _figure(max(6.0, 1.3 * len(samples)), 3.6)
    names = list(samples)
    ax.boxplot([samples[n] for n in names], showfliers=True)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("latency per batch (ms)")
    ax.grid(alpha=0.3, axis="y")
    return _png(plt, fig)
