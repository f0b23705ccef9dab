"""A benchmark method is one object: its name parses to one Method, which describes itself."""

from __future__ import annotations

import pytest

from benchmarks.methods import BASELINES, CORE_METHODS, METHODS, Method, parse_method

WORDS = {
    "ce": "no mixing",
    "rs": "no mixing; batches re-sampled with class weighting balanced",
    "sqrt": "no mixing; batches re-sampled with class weighting n_c^-0.5",
    "drw": "no mixing; deferred re-weighting with the training set's class prior",
    "la": "no mixing; logit-adjusted CE with the training set's class prior",
    "mixup": "torchvision mixup, in-batch, alpha 1",
    "remix": "in-batch mixup (a permuted copy as the tail), alpha 1, Remix labels",
    "cmo": "cutmix, alpha 1, p 0.5, per-batch, tail weighting balanced",
    "cmo-window": "cutmix, alpha 1, p 0.5, per-batch, tail weighting balanced; mixing epochs 3:-3",
    "mmt-mixup-p1-per-sample-gamma0.5": "mixup, alpha 1, p 1, per-sample, tail weighting n_c^-0.5",
    "mmt-cutmix-p0.5-per-batch-inverse+la": "cutmix, alpha 1, p 0.5, per-batch, tail weighting inverse; "
                                            "logit-adjusted CE with the trained targets' class prior",
    "mmt-mixup-a0.4-p1-per-sample-gamma0.5+drw-trainprior": "mixup, alpha 0.4, p 1, per-sample, tail weighting n_c^-0.5; "
                                                            "deferred re-weighting with the training set's class prior",
}


@pytest.mark.parametrize("name", sorted(WORDS))
def test_a_method_describes_itself(name):
    assert parse_method(name).describe() == WORDS[name]


def test_a_record_without_later_fields_is_the_method_it_meant():
    today = parse_method("la").to_dict()
    older = {key: value for key, value in today.items() if key not in ("prior", "mix_epochs")}
    assert Method.from_dict(older) == parse_method("la")
    assert Method.from_dict(older).describe() == WORDS["la"]


def test_the_method_lists_name_known_methods():
    for name in (*BASELINES, *CORE_METHODS):
        assert parse_method(name).name == name
    assert set(CORE_METHODS) <= set(BASELINES) and set(BASELINES) - {"mmt"} <= set(METHODS)
