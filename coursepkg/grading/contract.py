"""What a submission consists of: five modules and the functions each defines.

>>> EXERCISES["ex2_information"]
('entropy', 'cross_entropy', 'kl_divergence')
>>> module_of("log_softmax")
'ex4_logsumexp'
"""

from __future__ import annotations

EXERCISES: dict[str, tuple[str, ...]] = {
    "ex1_softmax": ("softmax",),
    "ex2_information": ("entropy", "cross_entropy", "kl_divergence"),
    "ex3_mle": ("nll_loss", "categorical_mle", "fit_softmax_regression"),
    "ex4_logsumexp": ("logsumexp", "log_softmax", "cross_entropy_from_logits"),
    "ex5_gradients": (
        "softmax_jacobian",
        "cross_entropy_grad",
        "softmax_regression_loss_and_grad",
        "numerical_gradient",
    ),
}

FUNCTIONS: dict[str, str] = {
    function: module for module, functions in EXERCISES.items() for function in functions
}


def module_of(function: str) -> str:
    """The exercise module that defines ``function``."""
    try:
        return FUNCTIONS[function]
    except KeyError:
        raise ValueError(f"function: no exercise defines {function!r}") from None


def check_modules(modules) -> tuple[str, ...]:
    """Validate a selection of module names (``None`` means all five).

    >>> check_modules(None)[0]
    'ex1_softmax'
    >>> check_modules(["ex9"])
    Traceback (most recent call last):
    ...
    ValueError: modules: unknown exercise module 'ex9'; expected some of ex1_softmax, ex2_information, ex3_mle, ex4_logsumexp, ex5_gradients
    """
    if modules is None:
        return tuple(EXERCISES)
    modules = tuple(modules)
    for name in modules:
        if name not in EXERCISES:
            raise ValueError(
                f"modules: unknown exercise module {name!r}; expected some of "
                + ", ".join(EXERCISES)
            )
    return modules
