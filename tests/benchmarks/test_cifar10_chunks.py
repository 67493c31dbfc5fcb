"""benchmarks/cifar10.py's AutoAttack chunks are class-balanced, so the chunks done so far are a
stratified subset of the class-sorted subset they come from."""

import importlib.util
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark():
    spec = importlib.util.spec_from_file_location("cifar10_benchmark", ROOT / "benchmarks" / "cifar10.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_round_robin_chunks_are_class_balanced_and_cover_every_image_once():
    bench = load_benchmark()
    y = torch.tensor([0] * 30 + [1] * 30 + [2] * 30 + [3] * 10)  # class-sorted, one class short
    order = bench.round_robin(y)
    assert sorted(order) == list(range(len(y)))
    first = y[order[:40]].tolist()
    assert [first.count(c) for c in range(4)] == [10, 10, 10, 10]
    later = y[order[40:70]].tolist()  # class 3 is used up: the others share the chunk
    assert [later.count(c) for c in range(4)] == [10, 10, 10, 0]
