"""Autograd parity of the torch face's custom Functions with torch itself.

Every custom :class:`torch.autograd.Function` of :mod:`coursepkg.torch` is
checked the way PyTorch checks its own operators: ``gradcheck`` (with
forward mode and batched gradients), ``gradgradcheck``, values of the first
and second derivatives against ``torch.nn.functional``, forward-mode AD
through :mod:`torch.autograd.forward_ad`, and the :mod:`torch.func`
transforms (``vmap``, ``grad``, per-sample gradients, ``jacfwd``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import forward_ad
from torch.func import grad, jacfwd, jacrev, vmap

from coursepkg import torch as ctorch

torch.manual_seed(0)
D = torch.float64


def _index_case(shape, ignored=False):
    z = torch.randn(*shape, dtype=D)
    cdim = 0 if len(shape) == 1 else 1
    index_shape = shape[:cdim] + shape[cdim + 1:]
    y = torch.randint(0, shape[cdim], index_shape)
    if ignored and y.ndim:
        y.view(-1)[::3] = -100
    return z, y


def _prob_case(shape):
    z = torch.randn(*shape, dtype=D)
    cdim = 0 if len(shape) == 1 else 1
    t = torch.rand(*shape, dtype=D)  # any non-negative target: torch's semantics
    return z, t * 2.0 / t.sum(cdim, keepdim=True).clamp_min(1e-3)


OPTIONS = [
    {},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"label_smoothing": 0.3},
    {"weight": True},
    {"weight": True, "label_smoothing": 0.2, "reduction": "none"},
    {"weight": True, "reduction": "mean"},
]
SHAPES = [(4, 5), (5,), (3, 4, 2)]


def _resolve(options, num_classes):
    options = dict(options)
    if options.get("weight"):
        options["weight"] = torch.rand(num_classes, dtype=D) + 0.5
    return options


def _cases():
    for shape in SHAPES:
        for options in OPTIONS:
            yield pytest.param("index", shape, options, id=f"index-{shape}-{options}")
        yield pytest.param("index-ignored", shape, {}, id=f"ignored-{shape}")
        yield pytest.param("prob", shape, {"label_smoothing": 0.1, "weight": True},
                           id=f"prob-{shape}")
        yield pytest.param("prob", shape, {"reduction": "none"}, id=f"prob-none-{shape}")


def _make(kind, shape):
    if kind == "prob":
        return _prob_case(shape)
    return _index_case(shape, ignored=kind == "index-ignored")


@pytest.mark.parametrize("kind,shape,options", list(_cases()))
def test_cross_entropy_first_and_second_derivatives_equal_torch(kind, shape, options):
    z, y = _make(kind, shape)
    options = _resolve(options, shape[0 if len(shape) == 1 else 1])
    v = torch.randn_like(z)
    results = []
    for f in (F.cross_entropy, ctorch.cross_entropy_loss):
        zz = z.clone().requires_grad_()
        loss = f(zz, y, **options)
        # a term on the logits next to the loss, as in a gradient penalty
        g, = torch.autograd.grad(loss.sum() + 0.5 * (zz ** 2).sum(), zz, create_graph=True)
        hv, = torch.autograd.grad((g * v).sum(), zz)
        results.append((loss.detach(), g.detach(), hv))
    for ours, theirs in zip(results[1], results[0]):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)


GRADCHECK_CASES = [  # gradcheck is slow: one case per path (the grid above compares values)
    ("index", (4, 5), {}),
    ("index", (3, 4, 2), {"weight": True, "label_smoothing": 0.2, "reduction": "none"}),
    ("index-ignored", (4, 5), {}),
    ("index", (5,), {"reduction": "sum"}),
    ("prob", (4, 5), {"label_smoothing": 0.1, "weight": True}),
]


@pytest.mark.parametrize("kind,shape,options", GRADCHECK_CASES)
def test_cross_entropy_gradcheck_gradgradcheck_forward_ad(kind, shape, options):
    z, y = _make(kind, shape)
    options = _resolve(options, shape[0 if len(shape) == 1 else 1])
    z.requires_grad_()
    inputs = (z,)
    if kind == "prob":  # the target is differentiable too, as in torch
        y.requires_grad_()
        inputs = (z, y)

        def fn(a, b):
            return ctorch.cross_entropy_loss(a, b, **options)
    else:
        def fn(a):
            return ctorch.cross_entropy_loss(a, y, **options)
    assert torch.autograd.gradcheck(fn, inputs, check_forward_ad=True,
                                    check_batched_grad=True,
                                    check_batched_forward_grad=True)
    assert torch.autograd.gradgradcheck(fn, inputs, check_fwd_over_rev=True,
                                        check_batched_grad=True)


@pytest.mark.parametrize("kind,shape,options", list(_cases()))
def test_cross_entropy_forward_ad_equals_torch(kind, shape, options):
    z, y = _make(kind, shape)
    options = _resolve(options, shape[0 if len(shape) == 1 else 1])
    dz = torch.randn_like(z)
    dy = torch.randn_like(y) if kind == "prob" else None
    tangents = []
    for f in (F.cross_entropy, ctorch.cross_entropy_loss):
        with forward_ad.dual_level():
            zd = forward_ad.make_dual(z, dz)
            yd = y if dy is None else forward_ad.make_dual(y, dy)
            tangents.append(forward_ad.unpack_dual(f(zd, yd, **options)).tangent)
    torch.testing.assert_close(tangents[1], tangents[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ignored", [False, True])
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.2, "weight": True}])
def test_cross_entropy_per_sample_gradients_equal_torch(options, ignored):
    # per-sample gradients of a linear model: vmap over grad over the loss
    # of one unbatched example, the torch.func recipe
    n, h, c = 6, 4, 5
    x = torch.randn(n, h, dtype=D)
    y = torch.randint(0, c, (n,))
    if ignored:
        y[1] = -100
    W = torch.randn(c, h, dtype=D)
    options = _resolve(options, c)

    def per_sample(f):
        def loss(w, xi, yi):
            return f((w @ xi)[None], yi[None], **options)
        return vmap(grad(loss), in_dims=(None, 0, 0))(W, x, y)

    ours, theirs = per_sample(ctorch.cross_entropy_loss), per_sample(F.cross_entropy)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)
    if ignored:  # an ignored example has zero gradient (0/0 mean: NaN loss)
        assert (ours[1] == 0).all()


def test_cross_entropy_vmap_jacobians_and_hessian_equal_torch():
    z, y = _index_case((4, 5))
    t = torch.softmax(torch.randn(4, 5, dtype=D), 1)
    for target in (y, t):
        for transform in (jacrev, jacfwd):
            ours = transform(lambda a: ctorch.cross_entropy_loss(a, target, reduction="none"))(z)
            theirs = transform(lambda a: F.cross_entropy(a, target, reduction="none"))(z)
            torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)
        hess = jacfwd(jacrev(lambda a: ctorch.cross_entropy_loss(a, target)))(z)
        ref = torch.autograd.functional.hessian(lambda a: F.cross_entropy(a, target), z)
        torch.testing.assert_close(hess, ref, rtol=1e-12, atol=1e-14)
    batched = vmap(ctorch.cross_entropy_loss)(z[:, None], y[:, None])
    torch.testing.assert_close(batched, F.cross_entropy(z, y, reduction="none"))


def test_cross_entropy_checks_values_under_vmap():
    z, y = _index_case((4, 5))
    y[2] = 7
    with pytest.raises(ValueError, match="class index 7, out of range for 5 classes"):
        vmap(ctorch.cross_entropy_loss)(z[:, None], y[:, None])
    t = torch.softmax(z, 1)
    t[1, 1] = -0.5
    with pytest.raises(ValueError, match="target has negative entries"):
        vmap(ctorch.cross_entropy_loss)(z, t)


def test_issue_snippet_gives_torch_numbers():
    z = torch.tensor([[0.3, -1.2, 0.8], [1.5, 0.1, -0.4]], dtype=D, requires_grad=True)
    y = torch.tensor([0, 2])
    v = torch.ones(2, 3, dtype=D)
    v[0, 0] = 3
    rows = []
    for f in (F.cross_entropy, ctorch.cross_entropy_loss):
        g, = torch.autograd.grad(f(z, y) + 0.5 * (z ** 2).sum(), z, create_graph=True)
        rows.append(torch.autograd.grad((g * v).sum(), z)[0][0])
    torch.testing.assert_close(rows[1], rows[0], rtol=1e-14, atol=0)
    # the cross-entropy part is really there: not the [3, 1, 1] of z**2 alone
    assert (rows[1] - torch.tensor([3.0, 1.0, 1.0], dtype=D)).abs().max() > 0.01


# ------------------------------------------------------- linear_cross_entropy

LINEAR_OPTIONS = [{}, {"reduction": "sum"}, {"reduction": "none"},
                  {"label_smoothing": 0.2}, {"ignored": True},
                  {"weight": True, "label_smoothing": 0.1}, {"prob": True, "weight": True}]


def _linear_case(options):
    n, h, v = 5, 3, 7
    hidden, weight = torch.randn(n, h, dtype=D), torch.randn(v, h, dtype=D)
    bias = torch.randn(v, dtype=D)
    target = torch.randint(0, v, (n,))
    options = dict(options)
    if options.pop("ignored", False):
        target[1] = -100
    if options.pop("prob", False):
        target = torch.rand(n, v, dtype=D)
    if options.get("weight"):
        options["weight"] = torch.rand(v, dtype=D) + 0.5
    return hidden, weight, bias, target, options


def _dense(h, w, b, y, **options):
    return F.cross_entropy(h @ w.T + b, y, **options)


def _ours(h, w, b, y, **options):
    return ctorch.linear_cross_entropy(h, w, y, bias=b, chunk_size=3, **options)


@pytest.mark.parametrize("options", LINEAR_OPTIONS, ids=str)
def test_linear_cross_entropy_gradcheck_gradgradcheck_forward_ad(options):
    hidden, weight, bias, target, options = _linear_case(options)
    inputs = tuple(t.requires_grad_() for t in (hidden, weight, bias))

    def fn(h, w, b):
        return _ours(h, w, b, target, **options)

    assert torch.autograd.gradcheck(fn, inputs, check_forward_ad=True,
                                    check_batched_grad=True,
                                    check_batched_forward_grad=True)
    assert torch.autograd.gradgradcheck(fn, inputs, check_fwd_over_rev=True,
                                        check_batched_grad=True)


@pytest.mark.parametrize("options", LINEAR_OPTIONS, ids=str)
def test_linear_cross_entropy_double_backward_and_forward_ad_equal_torch(options):
    hidden, weight, bias, target, options = _linear_case(options)
    vs = [torch.randn_like(t) for t in (hidden, weight, bias)]
    results = []
    for f in (_dense, _ours):
        leaves = [t.clone().requires_grad_() for t in (hidden, weight, bias)]
        loss = f(*leaves, target, **options).sum()
        grads = torch.autograd.grad(loss, leaves, create_graph=True)
        hvp = torch.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vs)), leaves)
        with forward_ad.dual_level():
            duals = [forward_ad.make_dual(t, v) for t, v in zip((hidden, weight, bias), vs)]
            tangent = forward_ad.unpack_dual(f(*duals, target, **options)).tangent
        results.append([loss.detach(), *[g.detach() for g in grads], *hvp, tangent])
    for ours, theirs in zip(results[1], results[0]):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-13)


def test_linear_cross_entropy_per_sample_gradients_equal_torch():
    hidden, weight, bias, target, _ = _linear_case({})

    def per_sample(f):
        def loss(w, b, hi, yi):
            return f(hi[None], w, b, yi[None])
        return vmap(grad(loss, argnums=(0, 1)), in_dims=(None, None, 0, 0))(
            weight, bias, hidden, target)

    for ours, theirs in zip(per_sample(_ours), per_sample(_dense)):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)
    bad = target.clone()
    bad[3] = 70
    with pytest.raises(ValueError, match="class index 70, out of range"):
        vmap(lambda hi, yi: _ours(hi[None], weight, bias, yi[None]))(hidden, bad)


def test_linear_cross_entropy_plain_backward_stays_chunked(monkeypatch):
    # without a recorded graph the backward is the chunked one (no full
    # logits): same gradients as torch's dense loss
    from coursepkg import chunked

    calls = []
    chunked_backward = chunked._backward
    monkeypatch.setattr(chunked, "_backward",
                        lambda *a, **k: calls.append(1) or chunked_backward(*a, **k))
    hidden, weight, bias, target, _ = _linear_case({})
    grads = []
    for f in (_dense, _ours):
        leaves = [t.clone().requires_grad_() for t in (hidden, weight, bias)]
        f(*leaves, target).backward()
        grads.append([t.grad for t in leaves])
    assert calls == [1]
    for ours, theirs in zip(*grads[::-1]):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)


# ---------------------------------------------- softmax, log_softmax, logsumexp

import mpmath  # noqa: E402
import numpy as np  # noqa: E402

from coursepkg import kernels_torch  # noqa: E402
from coursepkg import softmax as teaching_sm  # noqa: E402


@pytest.fixture(params=["compiled", "array operations"])
def log_softmax_path(request, monkeypatch):
    """Both ways the torch face computes float32/float64 log_softmax: the
    compiled kernel (:mod:`coursepkg.compiled`) and the chunked array
    operations it falls back to."""
    from coursepkg import compiled

    if request.param == "compiled":
        if compiled._off("COURSEPKG_COMPILED"):
            pytest.skip("COURSEPKG_COMPILED=0")
        assert compiled.available(compiled.torch_kind()), compiled.status(compiled.torch_kind())
    else:
        monkeypatch.setattr(kernels_torch, "_compiled_ok", lambda x: False)
    return request.param


def _hard_rows(rows=24, cols=150, seed=1):
    """float32 rows that break float32 arithmetic: wide spreads, a dominant
    logit (probability within 1e-20 of one), huge offsets, ties, -inf."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, cols, generator=g, dtype=D) * 4
    x[0:4] *= 30  # spread ~120
    x[4:8, 0] = 60.0  # one dominant logit: rest ~ e^-45
    x[8:10, 3] = 25.0  # p_max = 1 - ~1e-6
    x[10:12] += 1e4
    x[12:14] = x[12:14].round()  # ties at the maximum
    x[14:16, ::3] = -float("inf")
    x[16:18] -= 90.0  # exp(x) near float32 underflow
    return x.float()


def _ulp(got, exact):
    """|got - exact| in units of the float32 spacing at ``exact`` (float64)."""
    exact = np.asarray(exact, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(got == exact, 0.0, np.abs(got - exact) / spacing)


def _mp_log_softmax_grad(x, g):
    """g - exp(log_softmax(x)) * sum(g), row by row in 40-digit arithmetic."""
    mpmath.mp.dps = 40
    out = np.empty(x.shape)
    for i, (row, gi) in enumerate(zip(x.tolist(), g.tolist())):
        finite = [mpmath.mpf(v) for v in row if v != -np.inf]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in finite))
        total = mpmath.fsum(mpmath.mpf(v) for v in gi)
        for j, (v, gj) in enumerate(zip(row, gi)):
            p = 0 if v == -np.inf else mpmath.exp(mpmath.mpf(v) - lse)
            out[i, j] = float(mpmath.mpf(gj) - p * total)
    return out


@pytest.mark.parametrize("log_softmax_path, chunk", [
    ("compiled", None), ("array operations", None), ("array operations", 600),
    ("array operations", 1),  # several rows per chunk, one row per chunk
], indirect=["log_softmax_path"])
def test_float32_log_softmax_within_2_ulp_forward(chunk, monkeypatch, log_softmax_path):
    if chunk:
        monkeypatch.setattr(kernels_torch, "CHUNK_ELEMENTS", chunk)
    x = _hard_rows()
    exact = teaching_sm.log_softmax(x.double()).numpy()
    got = ctorch.log_softmax(x)
    assert got.dtype == torch.float32
    finite = np.isfinite(exact)
    np.testing.assert_array_equal(np.isfinite(got.numpy()), finite)
    assert _ulp(got.numpy(), exact)[finite].max() <= 2.0
    rows, top = np.arange(len(x)), x.argmax(1).numpy()
    assert _ulp(got.numpy()[rows, top], exact[rows, top]).max() <= 1.0
    # torch's own float32 log_softmax misses the largest entries by far
    assert _ulp(torch.log_softmax(x, 1).numpy()[rows, top], exact[rows, top]).max() > 1e3


@pytest.mark.parametrize("upstream", ["one-hot at the max", "one-hot elsewhere", "positive"])
def test_float32_log_softmax_backward_within_4_ulp(upstream, log_softmax_path):
    x = _hard_rows(rows=18, cols=60)
    g = torch.zeros_like(x)
    rows = torch.arange(len(x))
    if upstream == "one-hot at the max":  # nll of the predicted class: p_k near 1
        g[rows, x.argmax(1)] = -1.0
    elif upstream == "one-hot elsewhere":
        g[rows, (x.argmax(1) + 1) % x.shape[1]] = -1.0
    else:
        g = torch.rand(x.shape, generator=torch.Generator().manual_seed(3))
    exact = _mp_log_softmax_grad(x.double().numpy(), g.double().numpy())
    leaf = x.clone().requires_grad_()
    got, = torch.autograd.grad(ctorch.log_softmax(leaf), leaf, g)
    normal = np.abs(exact) > np.finfo(np.float32).tiny
    assert _ulp(got.numpy(), exact)[normal].max() <= 4.0
    if upstream == "one-hot at the max":  # autograd through the teaching version: ~3 %
        leaf = x.clone().requires_grad_()
        old, = torch.autograd.grad(teaching_sm.log_softmax(leaf), leaf, g)
        assert _ulp(old.numpy(), exact)[normal].max() > 1e3


def test_log_softmax_non_last_axis_and_special_values(log_softmax_path):
    x = _hard_rows(rows=6, cols=20).reshape(3, 2, 20).transpose(1, 2)  # class axis 1
    torch.testing.assert_close(ctorch.log_softmax(x, 1),
                               teaching_sm.log_softmax(x.double(), 1).float(),
                               rtol=2e-7, atol=0)
    special = torch.tensor([[1.0, float("inf"), 2.0], [-float("inf")] * 3,
                            [float("nan"), 1.0, 2.0], [0.0, -float("inf"), 1.0]])
    for dtype in (torch.float32, torch.float64):
        for name in ("log_softmax", "softmax", "logsumexp"):
            got = getattr(ctorch, name)(special.to(dtype))
            want = getattr(teaching_sm if name != "logsumexp" else
                           __import__("coursepkg.logsumexp").logsumexp, name)(special.to(dtype))
            torch.testing.assert_close(got, want, equal_nan=True, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["log_softmax", "softmax", "logsumexp"])
def test_softmax_family_autograd_equals_torch(name):
    x = torch.randn(4, 6, dtype=D)
    x[1, 2] = 30.0
    ours = getattr(ctorch, name)
    theirs = {"log_softmax": lambda a: torch.log_softmax(a, -1),
              "softmax": lambda a: torch.softmax(a, -1),
              "logsumexp": lambda a: torch.logsumexp(a, -1)}[name]
    leaf = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(ours, (leaf,), check_forward_ad=True,
                                    check_batched_grad=True,
                                    check_batched_forward_grad=True)
    assert torch.autograd.gradgradcheck(ours, (leaf,), check_fwd_over_rev=True,
                                        check_batched_grad=True)
    v = torch.randn_like(x)
    results = []
    for f in (theirs, ours):
        leaf = x.clone().requires_grad_()
        y = f(leaf)
        w = torch.randn(y.shape, dtype=D, generator=torch.Generator().manual_seed(5))
        g, = torch.autograd.grad((y * w).sum() + (leaf ** 3).sum(), leaf, create_graph=True)
        hv, = torch.autograd.grad((g * v).sum(), leaf)
        with forward_ad.dual_level():
            tangent = forward_ad.unpack_dual(f(forward_ad.make_dual(x, v))).tangent
        per_sample = vmap(grad(lambda r: (f(r[None]) ** 2).sum()))(x)
        results.append((y.detach(), g.detach(), hv, tangent, per_sample))
    for a, b in zip(*results):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["log_softmax", "softmax", "logsumexp"])
@pytest.mark.parametrize("layout", ["transposed", "axis 0", "3-D axis 1"])
def test_softmax_family_forward_ad_on_any_layout_equals_torch(name, layout):
    """Forward mode with a non-last axis or a non-contiguous input (the
    log_softmax Function's tangent once had another layout than its output,
    which failed an internal assertion of autograd)."""
    g = torch.Generator().manual_seed(11)
    x, axis = {"transposed": (torch.randn(7, 5, dtype=D, generator=g).t(), -1),
               "axis 0": (torch.randn(4, 5, dtype=D, generator=g), 0),
               "3-D axis 1": (torch.randn(3, 4, 5, dtype=D, generator=g), 1)}[layout]
    v = torch.randn(x.shape, dtype=D, generator=g)
    ours = lambda a: getattr(ctorch, name)(a, axis=axis)  # noqa: E731
    theirs = lambda a: getattr(torch, name)(a, axis)  # noqa: E731
    tangents = []
    for f in (theirs, ours):
        with forward_ad.dual_level():
            tangents.append(forward_ad.unpack_dual(f(forward_ad.make_dual(x, v))).tangent)
    torch.testing.assert_close(tangents[1], tangents[0], rtol=1e-12, atol=1e-14)
    leaf = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(ours, (leaf,), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(ours, (leaf,), check_fwd_over_rev=True)
