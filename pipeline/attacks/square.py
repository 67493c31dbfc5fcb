"""Square attack, L-inf, untargeted, margin loss (Andriushchenko et al., "Square Attack: a
query-efficient black-box adversarial attack via random search", ECCV 2020).

Black-box: it only calls ``predict(x) -> logits``, so it runs on any runtime (ONNX Runtime,
TensorRT) where gradients do not exist, which is the point: quantised or compiled models can mask
gradients, random search cannot be fooled that way. Inputs/outputs are (N, C, H, W) float tensors
in [0, 1]; ``eps`` in the same pixel units; ``n_queries`` per image, the paper's p_init 0.05 for
L-inf with its step-size schedule (torchattacks defaults p_init to 0.8; both are accepted).
Written here rather than wrapping torchattacks because torchattacks needs a differentiable
torch module, not a callable returning logits of another runtime; torchattacks stays the
reference in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dfard_pipeline.square_schedule import p_selection

Predict = Callable[[torch.Tensor], torch.Tensor]


def _margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """logit of the true class minus the best other logit: < 0 means misclassified."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.clone()
    other.scatter_(1, y[:, None], float("-inf"))
    return true - other.max(1).values


def square_linf(predict: Predict, x: torch.Tensor, y: torch.Tensor, *, eps: float, n_queries: int = 1000,
                p_init: float = 0.05, generator: torch.Generator | None = None,
                on_query: Callable[[int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns ``(x_adv, queries)``: the adversarial images and the queries each image used
    (an image stops being queried once it is misclassified). ``on_query(k)`` reports progress:
    k more query rounds done (used for progress bars)."""
    generator = generator or torch.Generator().manual_seed(0)
    x = x.detach().float()
    n, c, h, w = x.shape
    signs = torch.randint(0, 2, (n, c, 1, w), generator=generator).float() * 2 - 1  # vertical stripes
    x_best = (x + eps * signs).clamp(0, 1)
    margin = _margin(predict(x_best), y)
    queries = torch.ones(n, dtype=torch.long)
    for query in range(1, n_queries):
        active = (margin > 0).nonzero().squeeze(1)
        if active.numel() == 0:
            if on_query:
                on_query(n_queries - query)
            break
        if on_query:
            on_query(1)
        p = p_selection(p_init, query, n_queries)
        side = max(int(round(math.sqrt(p * h * w))), 1)
        side = min(side, h - 1, w - 1) if min(h, w) > 1 else 1
        row = int(torch.randint(0, h - side + 1, (1,), generator=generator))
        col = int(torch.randint(0, w - side + 1, (1,), generator=generator))
        x_cur, x_orig = x_best[active], x[active]
        delta = x_cur - x_orig
        window = (torch.randint(0, 2, (len(active), c, 1, 1), generator=generator).float() * 2 - 1) * eps
        delta[:, :, row:row + side, col:col + side] = window
        x_new = torch.min(torch.max(x_orig + delta, x_orig - eps), x_orig + eps).clamp(0, 1)
        margin_new = _margin(predict(x_new), y[active])
        queries[active] += 1
        better = margin_new < margin[active]
        improved = active[better]
        x_best[improved] = x_new[better]
        margin[improved] = margin_new[better]
    return x_best, queries
