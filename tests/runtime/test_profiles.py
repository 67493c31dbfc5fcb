import pytest

from dfard_pipeline.errors import ConfigError, UsageError
from dfard_pipeline.runtime.profiles import list_profiles, load_profile


def test_every_shipped_profile_loads():
    names = list_profiles()
    assert {"cpu", "cuda", "jetson", "jetson-orin-nano", "jetson-orin-nx", "jetson-agx-orin"} <= set(names)
    for name in names:
        if name != "jetson":
            profile = load_profile(name)
            assert profile.name == name and profile.batch_sizes[0] == 1 and profile.gates.max_p99_ms_batch1


def test_unknown_profile_names_the_closest(tmp_path):
    with pytest.raises(UsageError, match="Did you mean 'cuda'"):
        load_profile("cudaa")
    bad = tmp_path / "p.yaml"
    bad.write_text("name: x\nbatch_size: [1]\n")
    with pytest.raises(ConfigError, match="batch_sizes"):
        load_profile(str(bad))


def test_cw_can_be_left_out_but_budgets_cannot_be_negative(tmp_path):
    from dataclasses import replace

    base = load_profile("cpu")
    assert replace(base.attacks, cw_steps=0).cw_steps == 0
    with pytest.raises(ConfigError, match="cw_steps"):
        replace(base.attacks, cw_steps=-1)
    with pytest.raises(ConfigError, match="pgd_steps"):
        replace(base.attacks, pgd_steps=0)


def test_the_profile_readme_names_every_key_the_loader_reads():
    import dataclasses
    from pathlib import Path

    from dfard_pipeline.runtime.profiles import AttackBudget, DeviceProfile, Gates

    text = (Path(__file__).resolve().parents[2] / "configs" / "devices" / "README.md").read_text()
    keys = [f.name for cls in (DeviceProfile, Gates, AttackBudget) for f in dataclasses.fields(cls)]
    assert not [key for key in keys if f"`{key}`" not in text]
