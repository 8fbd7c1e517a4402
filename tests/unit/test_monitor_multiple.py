"""Holm's correction: adjusted p-values by hand, and the family-wise rate it holds."""

from __future__ import annotations

import numpy as np
import pytest

from modelgate.monitor.multiple import holm


def test_holm_adjusts_in_steps_and_keeps_the_input_order() -> None:
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> stays 0.06
    assert holm(np.array([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_never_lowers_a_p_value_and_caps_at_one() -> None:
    p = np.random.default_rng(0).random(30)
    adjusted = holm(p)
    assert (adjusted >= p).all() and (adjusted <= 1).all()
    assert adjusted.min() == pytest.approx(min(1.0, 30 * p.min()))  # its first step: Bonferroni


def test_holm_of_no_tests_is_empty() -> None:
    assert holm(np.array([])).size == 0


def test_holm_holds_the_family_wise_rate_where_uncorrected_tests_do_not() -> None:
    """24 true nulls per family, 20,000 seeded families: uncorrected, some test rejects in
    1 - 0.95^24 = 71% of them; Holm in at most 5% (4.4% here). The bound 0.055 lies 3.2
    standard errors above 0.05."""
    p = np.random.default_rng(1).random((20_000, 24))
    corrected = np.mean([(holm(row) <= 0.05).any() for row in p])
    assert corrected <= 0.055
    assert np.mean((p <= 0.05).any(axis=1)) > 0.6
