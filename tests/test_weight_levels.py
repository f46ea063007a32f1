"""Discrete weight levels (models.weight_levels): the numpy, JAX and Brian2 forms against values written out."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.models.weight_levels import check_levels, discrete_levels, held, held_code


def test_levels_of_four_bits_round_half_away_from_zero_and_clip():
    step, limit = discrete_levels(4, 1.4)
    assert (step, limit) == pytest.approx((0.2, 7.0))
    x = np.array([0.05, 0.1, 0.3, -0.3, -0.1, 0.69, 1.5, -9.0, 0.0])
    # 0.1 and 0.3 are ties (0.5 and 1.5 levels): away from zero, symmetric in sign; beyond +-7 levels: clipped
    np.testing.assert_allclose(held(x, step, limit), [0.0, 0.2, 0.4, -0.4, -0.2, 0.6, 1.4, -1.4, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="'bits'"):
        discrete_levels(1, 1.0)
    with pytest.raises(ValueError, match="'w_max'"):
        discrete_levels(4, 0.0)


def test_jax_and_brian2_forms_equal_the_numpy_form():
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(0, 1, 40), np.arange(-8, 9) * 0.25 + 0.125]  # random values and exact ties
    step, limit = 0.25, 7.0
    expected = held(x, step, limit)
    np.testing.assert_array_equal(np.asarray(held(jnp.asarray(x), step, limit, xp=jnp)), expected)
    b2.start_scope()
    group = b2.NeuronGroup(len(x), "x : 1\nlevel : 1\ny : 1\nz : 1", namespace={"limit": limit})
    group.x = x
    group.level = np.where(np.arange(len(x)) % 2 == 0, step, 0.0)  # odd ones unset: full precision
    group.run_regularly(f"y = {held_code('x', 'level', 'limit', optional=True)}\n"
                        f"z = {held_code('x', step, 'limit')}", dt=b2.defaultclock.dt)
    b2.run(b2.defaultclock.dt)
    np.testing.assert_array_equal(group.z[:], expected)
    np.testing.assert_array_equal(group.y[:], np.where(np.arange(len(x)) % 2 == 0, expected, x))


def test_a_weight_levels_option_is_checked_once_for_every_rule():
    # units: a step given in volt is stored as its number of volts; plain numbers pass unchanged
    checked = check_levels({"rec": (2 * b2.mV, 7), "out": (0.25, 31)}, ("in", "rec", "out"), units={"rec": b2.volt})
    assert checked == {"rec": (pytest.approx(0.002), 7.0), "out": (0.25, 31.0)}
    assert check_levels(None, ("w",)) == {}
    bad = [({"hidden": (0.1, 3)}, "some of w, b"), ({"w": 0.1}, r"'weight_levels\['w'\]' must be \(step, limit\)"),
           ({"w": (0.0, 3)}, "step > 0"), ({"w": (0.1, 0.5)}, "limit >= 1"), ({"w": (np.inf, 3)}, "finite"),
           ({"w": (0.1 * b2.second, 3)}, "dimensionless"), ([("w", (0.1, 3))], "must map")]
    for levels, message in bad:
        with pytest.raises(ValueError, match=message):
            check_levels(levels, ("w", "b"))
    with pytest.raises(ValueError, match=r"'weight_levels\['rec'\]': the step must be V"):
        check_levels({"rec": (0.1 * b2.second, 3)}, ("rec",), units={"rec": b2.volt})
