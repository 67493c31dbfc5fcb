import math

import pytest
import torch

from dfard_pipeline.config import DistillConfig
from dfard_pipeline.distill.balance import BALANCE_RULES
from dfard_pipeline.distill.generator_loss import generator_terms
from dfard_pipeline.distill.probe import Probe, mean_entropy
from dfard_pipeline.distill.student_loss import STUDENT_LOSSES
from dfard_pipeline.distill.teacher_stats import feature_statistics
from dfard_pipeline.distill.temperature import TEMPERATURE_RULES
from dfard_pipeline.errors import UsageError
from dfard_pipeline.models.generator import Generator, load_generator, sample_latent


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (3, 12, 20)])
@pytest.mark.parametrize("conditional", [True, False])
def test_generator_shape_range_and_reload(shape, conditional):
    gen = Generator(nz=16, ngf=8, image_shape=shape, num_classes=10, conditional=conditional)
    z, y = sample_latent(6, 16, 10, torch.Generator().manual_seed(0), torch.device("cpu"))
    x = gen(z, y)
    assert x.shape == (6, *shape) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    clone = load_generator({"generator": gen.describe(), "state_dict": gen.state_dict()})
    gen.eval()
    assert torch.allclose(clone(z, y), gen(z, y))


def test_generator_rejects_sizes_not_divisible_by_4():
    with pytest.raises(UsageError, match="divisible by 4"):
        Generator(8, 8, (1, 10, 8), 10)


def test_latent_classes_are_balanced_and_seeded():
    _, y = sample_latent(100, 4, 10, torch.Generator().manual_seed(1), torch.device("cpu"))
    assert torch.bincount(y).tolist() == [10] * 10
    a = sample_latent(8, 4, 10, torch.Generator().manual_seed(3), torch.device("cpu"))
    b = sample_latent(8, 4, 10, torch.Generator().manual_seed(3), torch.device("cpu"))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def _distances(teacher, stats, x):
    stats.enabled = True
    logits = teacher(x)
    stats.enabled = False
    return logits, stats.collect()


def test_bn_statistics_of_every_teacher_format_agree(digits_teacher, tmp_path):
    """Eager hooks, the torch.export graph tap and the converted TorchScript program compute the same
    differentiable distance, and each still gives the teacher's logits."""
    x = torch.rand(32, 1, 8, 8)
    eager, eager_stats = feature_statistics(digits_teacher, (1, 8, 8))
    program = torch.export.export(digits_teacher, (x[:2],), dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    exported, exported_stats = feature_statistics(program.module(), (1, 8, 8))
    scripted, script_stats = feature_statistics(torch.jit.trace(digits_teacher, x[:2]), (1, 8, 8))
    reference_logits, reference = _distances(eager, eager_stats, x)
    assert eager_stats.describe() == {"prior": "bn", "layers": 3, "source": "eager hooks"}
    for module, stats in ((exported, exported_stats), (scripted, script_stats)):
        assert stats.available and stats.layers == 3, stats.describe()
        logits, distance = _distances(module, stats, x.clone().requires_grad_(True))
        assert torch.allclose(logits, reference_logits, atol=1e-5)
        assert torch.allclose(distance, reference, rtol=1e-5) and float(distance) > 0
        assert distance.requires_grad  # it steers the generator through the input
    assert stats.collect() is None  # collect() empties; nothing is recorded while disabled
    module(x)
    assert stats.collect() is None


def test_teachers_without_batch_norm_say_why():
    class GroupNormTeacher(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.GroupNorm(2, 8), torch.nn.Flatten(),
                                            torch.nn.Linear(8 * 6 * 6, 10))

        def forward(self, x):
            return self.body(x)

    teacher = GroupNormTeacher().eval()
    _, stats = feature_statistics(teacher, (1, 8, 8))
    assert not stats.available and "GroupNorm" in stats.reason
    program = torch.export.export(teacher, (torch.rand(2, 1, 8, 8),))
    _, stats = feature_statistics(program.module(), (1, 8, 8))
    assert not stats.available and "group_norm" in stats.reason
    _, stats = feature_statistics(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)), (1, 8, 8))
    assert stats.describe()["reason"] == "the teacher has no normalisation layers"


def test_generator_terms_signs_and_ranges():
    teacher = torch.randn(40, 10) * 5
    targets = teacher.argmax(1)
    same = generator_terms(teacher, teacher.clone(), targets, None)
    assert float(same["adv"]) == pytest.approx(0.0, abs=1e-6) and "bn" not in same
    other = generator_terms(teacher, torch.zeros(40, 10), targets, torch.tensor(2.0))
    assert float(other["adv"]) < 0 and float(other["bn"]) == 2.0
    assert 0.0 <= float(other["ent"]) <= math.log(10) + 1e-6
    collapsed = torch.zeros(40, 10)
    collapsed[:, 0] = 20.0  # every sample one class: entropy of the mean ~ 0, ent ~ log K
    ent = float(generator_terms(collapsed, collapsed, targets, None)["ent"])
    assert ent == pytest.approx(math.log(10), abs=1e-3)


def _probe(teacher_scale=5.0, student_logits=None):
    teacher = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)) * teacher_scale
    student = teacher.clone() if student_logits is None else student_logits
    return Probe(teacher, student)


def test_ita_entropy_match_solves_for_student_entropy():
    cfg = DistillConfig()
    student = torch.randn(64, 10, generator=torch.Generator().manual_seed(1)) * 1.5
    probe = _probe(student_logits=student)
    tau = TEMPERATURE_RULES.get("entropy_match")(probe, cfg)
    assert 1.0 < tau < cfg.tau_max
    assert float(mean_entropy(probe.teacher_logits, tau)) == pytest.approx(probe.student_entropy, abs=1e-4)


def test_ita_entropy_match_clamps():
    cfg = DistillConfig(tau_max=10.0)
    sharp = _probe(student_logits=torch.randn(64, 10) * 100)  # student more certain than teacher
    assert TEMPERATURE_RULES.get("entropy_match")(sharp, cfg) == 1.0
    uniform = _probe(student_logits=torch.zeros(64, 10))  # student knows nothing
    assert TEMPERATURE_RULES.get("entropy_match")(uniform, cfg) == 10.0
    assert TEMPERATURE_RULES.get("entropy_match")(None, cfg) == 10.0


def test_ita_agreement_rule_and_fixed():
    cfg = DistillConfig(tau_max=10.0, fixed_tau=2.0)
    agree = _probe()
    assert TEMPERATURE_RULES.get("agreement")(agree, cfg) == pytest.approx(1.0)
    flipped = _probe(student_logits=-_probe().teacher_logits)
    assert TEMPERATURE_RULES.get("agreement")(flipped, cfg) == pytest.approx(10.0)
    assert TEMPERATURE_RULES.get("fixed")(agree, cfg) == 2.0


def test_agb_normalises_by_ema_magnitude_and_weights_hardness_by_agreement():
    cfg = DistillConfig(agb_momentum=0.5, agb_beta_min=0.1, agb_beta_max=0.9)
    agb = BALANCE_RULES.get("hardness_information")(cfg, ("adv", "bn", "oh", "ent"))
    agb.update({"adv": -4.0, "bn": 100.0, "oh": 2.0, "ent": 0.5}, _probe())  # full agreement
    assert agb.beta == 0.9
    weights = agb.weights()
    assert weights["adv"] * 4.0 == pytest.approx(0.9, rel=1e-6)
    for term, magnitude in (("bn", 100.0), ("oh", 2.0), ("ent", 0.5)):
        assert weights[term] * magnitude == pytest.approx(0.1 / 3, rel=1e-6)
    agb.update({"adv": -2.0, "bn": 100.0, "oh": 2.0, "ent": 0.5}, None)
    assert agb.magnitude["adv"] == pytest.approx(3.0)  # 0.5 * 4 + 0.5 * 2
    agb.update({}, _probe(student_logits=-_probe().teacher_logits))  # no agreement
    assert agb.beta == 0.1
    restored = BALANCE_RULES.get("hardness_information")(cfg, ("adv", "bn", "oh", "ent"))
    restored.load_state_dict(agb.state_dict())
    assert restored.weights() == agb.weights()


def test_fixed_balance_uses_config_weights():
    cfg = DistillConfig()
    weights = BALANCE_RULES.get("fixed")(cfg, ("adv", "oh", "ent")).weights()
    assert weights == {"adv": cfg.fixed_weights.adv, "oh": cfg.fixed_weights.oh, "ent": cfg.fixed_weights.ent}


@pytest.mark.parametrize("name", ["rslad", "ard"])
def test_student_losses_vanish_when_student_matches_teacher(name):
    loss = STUDENT_LOSSES.get(name)
    teacher = torch.randn(16, 10) * 3
    value = loss.loss(teacher, teacher, teacher, 1.0, 1.0)
    assert float(value) == pytest.approx(0.0, abs=1e-5)
    worse = loss.loss(torch.zeros(16, 10), torch.zeros(16, 10), teacher, 2.0, 5 / 6)
    assert float(worse) > 0.1


@pytest.mark.parametrize("name", ["rslad", "ard"])
def test_student_losses_weight_each_sample_as_told(name):
    loss = STUDENT_LOSSES.get(name).loss
    torch.manual_seed(0)
    adv, clean, teacher = torch.randn(4, 10), torch.randn(4, 10), torch.randn(4, 10)
    plain = float(loss(adv, clean, teacher, 2.0, 5 / 6))
    assert float(loss(adv, clean, teacher, 2.0, 5 / 6, sample_weights=torch.full((4,), 3.0))) == pytest.approx(plain)
    only_second = float(loss(adv, clean, teacher, 2.0, 5 / 6, sample_weights=torch.tensor([0.0, 1.0, 0.0, 0.0])))
    assert only_second == pytest.approx(float(loss(adv[1:2], clean[1:2], teacher[1:2], 2.0, 5 / 6)), rel=1e-5)


def test_scaled_fixed_balance_moves_only_the_hardness_split():
    cfg = DistillConfig()
    rule = BALANCE_RULES.get("scaled_fixed")(cfg, ("adv", "bn", "oh", "ent"))
    fixed = BALANCE_RULES.get("fixed")(cfg, ("adv", "bn", "oh", "ent")).weights()
    assert rule.weights() == pytest.approx(fixed)  # beta 0.5 before any probe
    rule.update({}, _probe())  # full agreement -> beta_max
    weights = rule.weights()
    assert weights["adv"] == pytest.approx(fixed["adv"] * 2 * cfg.agb_beta_max)
    assert weights["bn"] == pytest.approx(fixed["bn"] * 2 * (1 - cfg.agb_beta_max))


def test_relative_agreement_reads_the_student_against_what_the_teacher_itself_keeps():
    teacher = _probe().teacher_logits
    student = teacher.clone()
    student[:16] = -student[:16]  # the student keeps 48 of 64 under attack
    teacher_adv = teacher.clone()
    teacher_adv[:32] = -teacher_adv[:32]  # the teacher itself keeps only 32 of 64
    absolute = Probe(teacher, student)
    assert absolute.teacher_agreement is None and absolute.agreement == pytest.approx(0.75)
    relative = Probe(teacher, student, teacher_adv_logits=teacher_adv)
    assert relative.robust_agreement == pytest.approx(0.75) and relative.teacher_agreement == pytest.approx(0.5)
    assert relative.agreement == 1.0  # capped: at or above the teacher's own ceiling counts as full agreement
    weaker = student.clone()
    weaker[16:32] = -weaker[16:32]  # 32 of 64: half, the teacher's own half
    half = Probe(teacher, weaker, teacher_adv_logits=teacher.clone())  # a teacher that keeps everything
    assert half.agreement == pytest.approx(0.5)
    cfg = DistillConfig(tau_max=10.0)
    assert TEMPERATURE_RULES.get("agreement")(relative, cfg) == pytest.approx(1.0)
    assert TEMPERATURE_RULES.get("agreement")(absolute, cfg) == pytest.approx(1.0 + 9 * 0.25)
    rule = BALANCE_RULES.get("scaled_fixed")(cfg, ("adv", "bn", "oh", "ent"))
    rule.update({}, relative)
    assert rule.beta == cfg.agb_beta_max
    rule.update({}, absolute)
    assert rule.beta == pytest.approx(0.75)


def test_rslad_adversarial_term_can_take_its_own_temperature():
    torch.manual_seed(0)
    adv, clean, teacher = torch.randn(8, 10), torch.randn(8, 10), torch.randn(8, 10)
    loss = STUDENT_LOSSES.get("rslad").loss
    both = loss(adv, clean, teacher, 2.0, 0.5)
    assert loss(adv, clean, teacher, 2.0, 0.5, tau_adv=2.0) == pytest.approx(float(both))
    kl = torch.nn.functional.kl_div
    expected = (0.5 * kl(torch.log_softmax(adv, 1), torch.softmax(teacher, 1), reduction="batchmean")
                + 0.5 * 4.0 * kl(torch.log_softmax(clean / 2, 1), torch.softmax(teacher / 2, 1), reduction="batchmean"))
    assert float(loss(adv, clean, teacher, 2.0, 0.5, tau_adv=1.0)) == pytest.approx(float(expected), rel=1e-5)


def test_projected_surrogate_removes_only_the_conflicting_hardness_component():
    from dfard_pipeline.distill.steps import _projected_surrogate

    x = torch.zeros(2, 1, 1, 2, requires_grad=True)
    direction_info = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    # image 0: hardness gradient (-1, 1) conflicts with information (1, 0); image 1: (1, 1) does not
    direction_hard = torch.tensor([[-1.0, 1.0], [1.0, 1.0]]).view(2, 1, 1, 2)
    terms = {"adv": (x * direction_hard).sum(), "bn": (x * direction_info).sum()}
    weights = {"adv": 2.0, "bn": 1.0}
    (grad,) = torch.autograd.grad(_projected_surrogate(x, terms, weights), x)
    assert torch.allclose(grad[0].flatten(), torch.tensor([1.0, 2.0]))  # 2*(-1,1) minus its (-2,0) part, + (1,0)
    assert torch.allclose(grad[1].flatten(), torch.tensor([3.0, 2.0]))  # 2*(1,1) + (1,0), untouched


def test_health_warning_when_samples_never_approach_the_teacher_statistics():
    from dfard_pipeline.distill.teacher_stats import health_warning

    def history(*distances):
        return [{"health": {"bn_distance": d}} for d in distances]

    assert health_warning(history(6.08, 1.2, 0.20)) is None  # the digits default with the prior
    warning = health_warning(history(6.08, 5.5, 4.70))  # the same .pt2 teacher without it
    assert warning and "77 %" not in warning and "77%" in warning and "much weaker" in warning
    assert health_warning(history(None, None)) is None and health_warning(history(3.0)) is None
