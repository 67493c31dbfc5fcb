"""The feature-statistics prior (DeepInversion's `bn` generator term) for every teacher format.

For each BatchNorm layer of the teacher: ||mean(x) - running_mean||_2 + ||var(x) - running_var||_2
over the layer's input x during a forward pass, where the running statistics are what the teacher
stored from its private data. Summed over layers it is the `bn` term; divided by the number of
layers it is the per-epoch health signal `bn_distance`.

One interface (``available``, ``enabled``, ``collect``, ``describe``) for three taps:
- eager ``nn.Module``: forward hooks on the BatchNorm modules;
- ``torch.export`` programs (their ``.module()`` is an ``fx.GraphModule``): a graph pass inserts a
  tap module before every batch-norm call, reading the same running-statistics tensors;
- TorchScript: converted to a ``torch.export`` program with torch's TorchScript converter (the
  logits must agree with the TorchScript module), then tapped as above. A program the converter
  cannot take keeps running as TorchScript without the prior, and says why.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import torch
from torch import fx, nn

# aten batch-norm calls in exported graphs; args 0, 3 and 4 are input, running_mean, running_var.
_GRAPH_BATCH_NORMS = ("aten.batch_norm.default", "aten._native_batch_norm_legit_no_training.default",
                      "aten._native_batch_norm_legit.default", "aten.native_batch_norm.default",
                      "aten._native_batch_norm_legit_functional.default", "aten.cudnn_batch_norm.default")
_GRAPH_STATLESS_NORMS = ("group_norm", "layer_norm", "instance_norm")


def statistics_distance(x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor) -> torch.Tensor:
    """||mean - running_mean|| + ||var - running_var|| over every dimension but channels (dim 1)."""
    x = x.float()
    dims = [d for d in range(x.ndim) if d != 1]
    mean = x.mean(dim=dims)
    var = x.var(dim=dims, unbiased=False)
    return torch.norm(mean - running_mean.float(), 2) + torch.norm(var - running_var.float(), 2)


class FeatureStatistics:
    """Collects the per-layer distances of the next forward passes while ``enabled``."""

    def __init__(self, layers: int, source: str, reason: str = ""):
        self.layers, self.source, self.reason = layers, source, reason
        self.enabled = False
        self._losses: list[torch.Tensor] = []
        self.handles: list = []  # the forward hooks placed on the teacher, removed by ``close``

    def close(self) -> None:
        """Take the hooks off the teacher: a library call leaves no trace on a caller's module."""
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    @property
    def available(self) -> bool:
        return self.layers > 0

    def record(self, x, running_mean, running_var) -> None:
        if self.enabled:
            self._losses.append(statistics_distance(x, running_mean, running_var))

    def collect(self) -> torch.Tensor | None:
        """The summed distance over the layers seen since the last call (None when none were)."""
        if not self._losses:
            return None
        total = torch.stack(self._losses).sum()
        self._losses = []
        return total

    def describe(self) -> dict:
        """What distill reports and records: the prior in use, or why there is none."""
        if self.available:
            return {"prior": "bn", "layers": self.layers, "source": self.source}
        return {"prior": None, "layers": 0, "source": self.source, "reason": self.reason}


class _Tap(nn.Module):
    """Inserted before a batch-norm call in an fx graph; records and returns nothing."""

    def __init__(self, stats: FeatureStatistics):
        super().__init__()
        self.stats = [stats]  # a list: not a submodule, so it is neither saved nor moved

    def forward(self, x, running_mean, running_var):
        self.stats[0].record(x, running_mean, running_var)


def _no_prior_reason(norms: list[str]) -> str:
    if norms:
        return (f"the teacher normalises with {', '.join(sorted(set(norms)))}, which keeps no statistics of its "
                "training data")
    return "the teacher has no normalisation layers"


def _eager(teacher: nn.Module) -> FeatureStatistics:
    stats = FeatureStatistics(0, "eager hooks")
    norms = []
    for module in teacher.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
            stats.handles.append(module.register_forward_hook(
                lambda m, inputs, output: stats.record(inputs[0], m.running_mean, m.running_var)))
            stats.layers += 1
        elif isinstance(module, nn.GroupNorm | nn.LayerNorm | nn.modules.instancenorm._InstanceNorm):
            norms.append(type(module).__name__)
    stats.reason = "" if stats.layers else _no_prior_reason(norms)
    return stats


def _graph(module: fx.GraphModule, source: str) -> FeatureStatistics:
    stats = FeatureStatistics(0, source)
    norms = []
    graph = module.graph
    for node in list(graph.nodes):
        target = str(node.target)
        if node.op != "call_function":
            continue
        if target in _GRAPH_BATCH_NORMS and len(node.args) > 4 and all(
                isinstance(node.args[i], fx.Node) for i in (0, 3, 4)):
            name = f"dfard_bn_tap_{stats.layers}"
            module.add_submodule(name, _Tap(stats))
            with graph.inserting_before(node):
                graph.call_module(name, (node.args[0], node.args[3], node.args[4]))
            stats.layers += 1
        elif any(norm in target for norm in _GRAPH_STATLESS_NORMS):
            norms.append(target.split(".")[1])
    module.recompile()
    stats.reason = "" if stats.layers else _no_prior_reason(norms)
    return stats


@contextlib.contextmanager
def _quiet_converter():
    """The converter warns about unused BN counters and logs shape specialisation: noise to a user."""
    logger = logging.getLogger("torch._export")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _from_torchscript(teacher, shape: tuple[int, ...]) -> tuple[nn.Module | None, str]:
    """An fx module equivalent to the TorchScript ``teacher``, or None and the reason."""
    try:
        from torch._export.converter import TS2EPConverter

        probe = torch.rand(4, *shape, generator=torch.Generator().manual_seed(0))
        with _quiet_converter():
            module = TS2EPConverter(teacher, (probe,)).convert().module()
        with torch.no_grad():
            same = torch.allclose(module(probe), teacher(probe), atol=1e-4, rtol=1e-4) and \
                module(probe[:1]).shape == teacher(probe[:1]).shape
    except Exception as exc:  # noqa: BLE001 - a private converter: any failure means "keep TorchScript"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"torch's TorchScript converter cannot take this program ({first[:120]})"
    if not same:
        return None, "the converted TorchScript program does not reproduce its logits"
    return module, ""


def feature_statistics(teacher: nn.Module, shape: tuple[int, ...]) -> tuple[nn.Module, FeatureStatistics]:
    """The teacher to train against (the same module, or a tapped equivalent) and its statistics."""
    if isinstance(teacher, torch.jit.ScriptModule):
        converted, why = _from_torchscript(teacher, shape)
        if converted is None:
            return teacher, FeatureStatistics(0, "torchscript", why)
        for param in converted.parameters():
            param.requires_grad_(False)
        return converted, _graph(converted, "torchscript converted to a torch.export graph")
    if isinstance(teacher, fx.GraphModule):
        tapped = _graph(teacher, "torch.export graph tap")
        # an fx-traced eager model keeps its BatchNorm modules (call_module nodes): hook those
        return teacher, tapped if tapped.available else _eager(teacher) if _has_batch_norm(teacher) else tapped
    return teacher, _eager(teacher)


def _has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def announce_priors(priors: dict, teacher_format: str) -> str:
    """The line distill starts with: the prior in use, or a warning saying what to expect."""
    if priors["prior"] == "bn" and priors["used"]:
        return f"feature-statistics prior: bn over {priors['layers']} BatchNorm layers ({priors['source']})"
    if priors["prior"] == "bn":
        return (f"feature-statistics prior: off (distill.feature_prior); {priors['layers']} BatchNorm layers "
                "measured for the health signal only")
    return (f"warning: no feature-statistics prior for this {teacher_format} teacher: {priors['reason']}. "
            "The generator is steered by the teacher's outputs alone and may synthesise inputs unlike "
            "the teacher's data: expect a markedly weaker student (on digits, a .pt2 teacher without "
            "this prior gave 82.4 % clean and 50.2 % PGD-20 instead of 97.2 % and 84.9 %). Watch "
            "health.teacher_confidence and class_coverage in metrics.jsonl.")


# bn_distance at the end over its first-epoch value above which distill warns. Measured on the digits
# default (benchmarks/results/portable_teachers.md): with the prior it falls to 3-4 % of its start;
# the same .pt2 teacher without it stayed at 84 %, and that student was 15 points less accurate.
HEALTH_RATIO_WARNING = 0.5


def health_warning(history: list[dict]) -> str | None:
    """A warning when the synthetic samples never approached the teacher's feature statistics."""
    distances = [r.get("health", {}).get("bn_distance") for r in history]
    if len(distances) < 2 or distances[0] is None or distances[-1] is None or distances[0] <= 0:
        return None
    ratio = distances[-1] / distances[0]
    if ratio <= HEALTH_RATIO_WARNING:
        return None
    return (f"the generator's samples stayed far from the teacher's feature statistics (bn_distance "
            f"{distances[-1]:.2f} at the end, {ratio:.0%} of its first epoch's {distances[0]:.2f}; with the prior "
            "it falls below 10 %): expect the student to be much weaker on real data than its robust agreement "
            "on synthetic samples suggests")
