"""benchmarks/cifar10.py's AutoAttack chunks are class-balanced, so the chunks done so far are a
stratified subset of the class-sorted subset they come from."""

import torch


def test_round_robin_chunks_are_class_balanced_and_cover_every_image_once(cifar10_bench):
    bench = cifar10_bench
    y = torch.tensor([0] * 30 + [1] * 30 + [2] * 30 + [3] * 10)  # class-sorted, one class short
    order = bench.round_robin(y)
    assert sorted(order) == list(range(len(y)))
    first = y[order[:40]].tolist()
    assert [first.count(c) for c in range(4)] == [10, 10, 10, 10]
    later = y[order[40:70]].tolist()  # class 3 is used up: the others share the chunk
    assert [later.count(c) for c in range(4)] == [10, 10, 10, 0]


def test_paired_comparison_reads_the_verdicts_back_and_tests_the_discordant_images(cifar10_bench):
    import numpy as np

    bench = cifar10_bench
    a = [True] * 12 + [False] * 3 + [True, False] * 5
    b = [True] * 12 + [True] * 3 + [False, False] * 5
    packed = {"autoattack_robust": np.packbits(np.array(a)).tobytes().hex(), "autoattack_n": len(a)}
    assert bench.robust_verdicts(packed) == a  # the padding bits of the last byte are not images
    assert bench.mcnemar(a, b)[:2] == (5, 3)
    assert bench.sign_test(5, 3) == (1 + 8 + 28 + 56) * 2 / 256  # P(X <= 3), X ~ Bin(8, 1/2), two-sided
    assert bench.sign_test(10, 0) < 0.002 and bench.sign_test(4, 4) == 1.0
    d = {"name": "dfard-s0", **packed}
    c = {"name": "combo-s0", "autoattack_robust": np.packbits(np.array(b)).tobytes().hex(), "autoattack_n": len(b)}
    (line,) = bench.paired_lines([d], [c])
    assert "5 only dfard holds, 3 only combo holds" in line
    d1, c1 = {**d, "name": "dfard-s1"}, {**c, "name": "combo-s1"}
    assert bench.paired_lines([d, d1], [c, c1])[-1].startswith("- all 2 seeds pooled: 10 vs 6")
    assert bench.paired_lines([d], [{**c, "name": "combo-s1"}]) == []  # only the same seed pairs up
    partial = {**c, "autoattack_robust": np.packbits(np.array(b[:12])).tobytes().hex(), "autoattack_n": 12}
    (line,) = bench.paired_lines([d], [partial])  # still attacking: compared on the images both have
    assert line.startswith("- seed 0, 12 images: 0 only dfard holds, 0 only combo holds")
