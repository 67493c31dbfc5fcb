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
