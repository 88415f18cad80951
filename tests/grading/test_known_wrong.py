"""Each classic mistake loses points on its own function, with feedback that
names the mistake and links the chapter section; the module's other
functions keep all their points."""

import pytest
from grading_support import FAST, case_submission

from coursepkg.grading.contract import module_of
from coursepkg.grading.expect import MISTAKES
from coursepkg.grading.grade import grade

# case file in cases/wrong, the function it replaces, the mistake it must be named as
CASES = [
    ("softmax_no_max_shift", "softmax", "max-shift"),
    ("softmax_wrong_axis", "softmax", "wrong-axis"),
    ("entropy_zero_log_zero", "entropy", "zero-log-zero"),
    ("cross_entropy_eps", "cross_entropy", "eps-in-log"),
    ("kl_swapped", "kl_divergence", "kl-swapped"),
    ("nll_sum", "nll_loss", "sum-not-mean"),
    ("mle_no_minlength", "categorical_mle", "mle-counts"),
    ("fit_no_mean", "fit_softmax_regression", "grad-missing-1-over-n"),
    ("logsumexp_naive", "logsumexp", "lse-max-shift"),
    ("logsumexp_unguarded_max", "logsumexp", "lse-all-neg-inf"),
    ("log_of_softmax", "log_softmax", "log-of-softmax"),
    ("ce_from_logits_sum", "cross_entropy_from_logits", "sum-not-mean"),
    ("ce_grad_no_mean", "cross_entropy_grad", "grad-missing-1-over-n"),
    ("regression_grad_no_mean", "softmax_regression_loss_and_grad", "grad-missing-1-over-n"),
    ("numgrad_forward", "numerical_gradient", "forward-difference"),
    ("numgrad_mutates", "numerical_gradient", "mutated-input"),
    ("fit_never_updates", "fit_softmax_regression", "gd-update"),
    ("ce_from_logits_via_softmax", "cross_entropy_from_logits", "ce-from-logits"),
    ("jacobian_no_diag", "softmax_jacobian", "jacobian"),
    ("ce_grad_sign", "cross_entropy_grad", "grad-logits"),
]


# functions of the solutions that call another exercise function
USES = {"logsumexp": ("log_softmax", "cross_entropy_from_logits")}


def test_every_mistake_in_the_issue_has_a_case():
    named = {mistake for _, _, mistake in CASES}
    for key in ("max-shift", "wrong-axis", "sum-not-mean", "eps-in-log", "kl-swapped",
                "grad-missing-1-over-n", "log-of-softmax"):
        assert key in named


def test_every_named_mistake_is_shown_by_a_case():
    from test_realworld import VERDICTS

    named = {mistake for _, _, mistake in CASES}
    named |= {verdict.mistake for _, _, verdict in VERDICTS if getattr(verdict, "mistake", None)}
    assert named == set(MISTAKES)


@pytest.mark.parametrize("case, function, mistake", CASES, ids=[c[0] for c in CASES])
def test_known_wrong_case(tmp_path, case, function, mistake):
    module = module_of(function)
    report = grade(case_submission(tmp_path, "wrong", case, function), [module], FAST)
    points = report.by_function()
    assert points[function][0] < points[function][1], f"{case} kept all points"
    for other, (score, maximum) in points.items():
        if other != function and other not in USES.get(function, ()):
            assert score == maximum, f"{case} cost {other} points"
    text, link = MISTAKES[mistake]
    outputs = [t.output for t in report.tests if t.function == function and t.score == 0]
    assert any(text in output and output.endswith(link) for output in outputs), outputs
