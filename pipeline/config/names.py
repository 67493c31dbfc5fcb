"""The names each registry holds, as plain strings: the config layer checks a config's names against
these without importing the registries (which import torch and the models), so loading a config and
``--help`` stay instant. ``tests/config/test_names.py`` holds each list equal to its registry."""

from __future__ import annotations

METHODS = ("combo", "combo+agb", "combo+ita", "dfard")  # distill/methods.py
TEMPERATURE_RULES = ("agreement", "entropy_match", "fixed")  # distill/temperature.py (ITA)
BALANCE_RULES = ("fixed", "gradient_balance", "hardness_information", "normalise_only", "scaled_fixed",
                 "scaled_fixed_inverse", "scaled_fixed_projected")  # distill/balance.py (AGB)
STUDENT_LOSSES = ("ard", "rslad")  # distill/student_loss.py
MODELS = ("digits_cnn_student", "digits_cnn_teacher", "mobilenet_v2", "preact_resnet18", "resnet18", "resnet20",
          "resnet8", "wrn_34_10")  # models/ (the zoo)

REGISTRIES = {"method": METHODS, "ita_rule": TEMPERATURE_RULES, "agb_rule": BALANCE_RULES,
              "student_loss": STUDENT_LOSSES, "student": MODELS}
KINDS = {"method": "method", "ita_rule": "temperature rule", "agb_rule": "generator balance rule",
         "student_loss": "student loss", "student": "model"}
