import torch

from dfard_pipeline.profiling import FlopCounter


def test_flop_counter_counts_matmul_flops_and_working_ops_not_views():
    a, b = torch.rand(4, 8), torch.rand(8, 3)
    with FlopCounter() as counted:
        c = a @ b  # 2 * 4 * 8 * 3 FLOPs
        d = c.view(-1)  # a view: no work
        e = (d + 1).relu()  # two ops on data
        torch.empty(5)  # a bare allocation
    assert counted.total == 2 * 4 * 8 * 3
    assert counted.ops == 3
    assert e.shape == (12,)
    # bytes: the matmul reads a and b and writes c; add reads d (and the scalar 1, no tensor) and
    # writes 12 floats; relu reads and writes 12 floats
    assert counted.bytes == 4 * (4 * 8 + 8 * 3 + 12) + 4 * (12 + 12) + 4 * (12 + 12)


def test_an_in_place_op_reads_and_writes_its_tensor():
    x = torch.zeros(100, dtype=torch.bfloat16)
    with FlopCounter() as counted:
        x.add_(1.0)
    assert counted.ops == 1 and counted.bytes == 2 * 100 * 2
