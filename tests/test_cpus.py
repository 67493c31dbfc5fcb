import os

from dfard_pipeline.cpus import usable_cpus


def test_affinity_without_a_quota(tmp_path):
    cpus = usable_cpus(tmp_path)  # no cgroup files: no quota
    assert cpus.count == len(os.sched_getaffinity(0)) and cpus.source == "affinity" and cpus.quota is None


def test_cgroup_v2_quota_caps_the_affinity(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    (tmp_path / "cpu.max").write_text("250000 100000\n")
    cpus = usable_cpus(tmp_path)
    assert (cpus.count, cpus.source, cpus.affinity, cpus.quota) == (3, "cgroup quota", 16, 2.5)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(tmp_path).count == 16


def test_cgroup_v1_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("200000")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert usable_cpus(tmp_path).count == 2
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    assert usable_cpus(tmp_path).count == 16
