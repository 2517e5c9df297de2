"""leptonlab.search: many models in one program, equal to training each alone."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from matplotlib.figure import Figure

from leptonlab import checks, plot, search
from leptonlab.checks import CheckFailed
from leptonlab.models import MLP
from leptonlab.train import TrainConfig, TrainState, classification_loss, fit, train_step


def tiny_model(rngs):
    return MLP(6, [8], 2, dropout=0.1, rngs=rngs)  # dropout: the per-model keys matter


@pytest.fixture(scope="module")
def data():
    x = jax.random.normal(jax.random.key(1), (64, 6))  # [64, 6]
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(jnp.int32)  # [64]
    return x, y


@pytest.fixture(scope="module")
def trained(data):
    trials = search.grid([1e-3, 3e-2], weight_decays=[0.0, 1e-2], seeds=[0, 3])  # 8 models
    return search.train_many(tiny_model, data, trials, epochs=2, batch_size=16, val_data=data)


def _max_diff(a, b):
    return max(
        float(jnp.max(jnp.abs(u - v))) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))
    )


def test_vmapped_training_equals_separate_runs(data, trained):
    trials = trained.trials
    tx = search.search_optimizer("adamw")
    step = jax.jit(train_step, static_argnames="loss_fn")
    for i in range(len(trials)):
        seed = int(trials.seed[i])
        state = TrainState.create(tiny_model(nnx.Rngs(seed)), tx, key=search.seed_keys(seed)[1])
        hyper = dict(
            state.opt_state.hyperparams,
            learning_rate=jnp.float32(trials.learning_rate[i]),
            weight_decay=jnp.float32(trials.weight_decay[i]),
        )
        state = state.replace(opt_state=state.opt_state._replace(hyperparams=hyper))
        losses = []
        for epoch in range(2):
            for idx in search.epoch_order(seed, 64, 16, epoch):  # [B]
                state, metrics = step(
                    state, (data[0][idx], data[1][idx]), loss_fn=classification_loss
                )
                losses.append(metrics["loss"].mean())
        assert _max_diff(state.params, search.unstack(trained.states, i).params) < 1e-5
        assert trained.history["train_loss"][-1, i] == pytest.approx(
            float(np.mean(losses[4:])), rel=1e-5
        )
    # the models really differ: different learning rates and seeds give different parameters
    assert (
        _max_diff(
            search.unstack(trained.states, 0).params, search.unstack(trained.states, 7).params
        )
        > 1e-3
    )


def test_one_trial_equals_train_fit(data, trained):
    i = 5  # lr 3e-2, weight decay 0, seed 3
    lr, wd, seed = (
        trained.trials.learning_rate[i],
        trained.trials.weight_decay[i],
        int(trained.trials.seed[i]),
    )
    config = TrainConfig(
        epochs=2,
        batch_size=16,
        learning_rate=float(lr),
        weight_decay=float(wd),
        optimizer="adamw",
        seed=seed,
        progress=False,
    )
    state, history = fit(tiny_model(nnx.Rngs(seed)), data, config, val_data=data)
    assert _max_diff(state.params, search.unstack(trained.states, i).params) < 1e-5
    assert trained.final("val_accuracy")[i] == pytest.approx(history["val_accuracy"][-1], abs=1e-6)


def test_shared_data_order_equals_train_fit(data):
    # all models with one seed: one batch per step, shared by the models (the cheaper path)
    trials = search.grid([1e-3, 3e-2], seeds=[3])
    result = search.train_many(tiny_model, data, trials, epochs=1, batch_size=16)
    config = TrainConfig(
        epochs=1, batch_size=16, learning_rate=3e-2, optimizer="adamw", seed=3, progress=False
    )
    state, history = fit(tiny_model(nnx.Rngs(3)), data, config)
    assert _max_diff(state.params, search.unstack(result.states, 1).params) < 1e-5
    assert result.final("train_loss")[1] == pytest.approx(history["train_loss"][-1], rel=1e-5)


def test_result_table_best_and_history(trained):
    assert trained.history["train_loss"].shape == (2, 8)
    rows = trained.table()
    losses = [r["val_loss"] for r in rows]
    assert losses == sorted(losses) and len(rows) == 8
    assert rows[0]["val_loss"] == trained.final("val_loss")[trained.best()]
    assert trained.best("val_accuracy", mode="max") == int(np.argmax(trained.final("val_accuracy")))
    text = search.format_table(rows, columns=["learning_rate", "seed", "val_loss"], max_rows=3)
    assert "learning_rate" in text and "5 more rows" in text
    with pytest.raises(KeyError, match="no metric"):
        trained.final("nope")
    with pytest.raises(ValueError, match="mode"):
        trained.best(mode="up")


def test_grid_and_random_trials(key):
    trials = search.grid([1e-3, 1e-2], weight_decays=[0.0, 0.1], seeds=[0, 1, 2])
    assert (
        len(trials) == 12
        and trials.learning_rate[0] == 1e-3
        and trials.seed.tolist()[:3] == [0, 1, 2]
    )
    assert trials.take([11]).rows() == [{"learning_rate": 1e-2, "weight_decay": 0.1, "seed": 2}]
    two = search.grid([1e-3, 1e-2]).with_seeds([5, 6])
    assert two.learning_rate.tolist() == [1e-3, 1e-3, 1e-2, 1e-2] and two.seed.tolist() == [
        5,
        6,
        5,
        6,
    ]
    with pytest.raises(ValueError, match="seeds"):
        trials.with_seeds([])
    rand = search.random_trials(50, key=key, learning_rate=(1e-4, 1e-1), weight_decay=(1e-5, 1e-3))
    assert np.all((rand.learning_rate >= 1e-4) & (rand.learning_rate < 1e-1))
    assert np.all((rand.weight_decay >= 1e-5) & (rand.weight_decay < 1e-3))
    again = search.random_trials(50, key=key, learning_rate=(1e-4, 1e-1), weight_decay=(1e-5, 1e-3))
    assert np.array_equal(rand.learning_rate, again.learning_rate)


def test_log_uniform_is_uniform_in_log(key):
    x = search.log_uniform(key, 40_000, 1e-4, 1.0)
    shares = np.histogram(np.log10(x), bins=[-4, -3, -2, -1, 0])[0] / len(x)
    assert np.allclose(shares, 0.25, atol=0.01)


def test_halving_survivors():
    assert search.halving_survivors([0.5, 0.2, 0.9, 0.1], 2).tolist() == [3, 1]
    assert search.halving_survivors([0.3, 0.2, 0.9], 4).tolist() == [1]
    assert search.halving_survivors([np.nan, 0.3, 0.2, np.nan, 1.0], 2).tolist() == [2, 1, 4]


def test_successive_halving_drops_bad_trials_and_continues_runs(data):
    trials = search.Trials(np.array([1e-6, 3e-3, 3e-2, 30.0]), np.zeros(4), np.zeros(4, int))
    result = search.successive_halving(
        tiny_model, data, trials, val_data=data, rounds=2, batch_size=16, eta=2
    )
    assert [len(r["trials"]) for r in result.rounds] == [4, 2]
    assert result.model_epochs == 4 + 2
    assert set(result.rounds[1]["trials"].tolist()) == {
        1,
        2,
    }  # the tiny and the diverging rates are dropped
    assert (
        result.rounds[0]["scores"][3] > 10 * result.rounds[0]["scores"][1]
    )  # lr 30 overshoots wildly
    assert result.best in result.rounds[-1]["trials"]
    # a survivor ends exactly where an uninterrupted 2-epoch run of it ends
    alone = search.train_many(tiny_model, data, trials.take([result.best]), epochs=2, batch_size=16)
    last = result.rounds[-1]["trials"].tolist()
    assert (
        _max_diff(
            search.unstack(result.states, last.index(result.best)).params,
            search.unstack(alone.states, 0).params,
        )
        < 1e-5
    )


def test_cost_curve_times_every_n(data):
    points = search.cost_curve(tiny_model, data, [1, 2], batch_size=32, repeats=1)
    assert [p.models for p in points] == [1, 2]
    assert all(p.seconds > 0 and p.compile_seconds >= 0 for p in points)


def test_bad_inputs(data, trained):
    with pytest.raises(ValueError, match="positive"):
        search.Trials(np.array([0.0]), np.zeros(1), np.zeros(1, int))
    with pytest.raises(ValueError, match="one length"):
        search.Trials(np.array([1e-3, 1e-2]), np.zeros(1), np.zeros(1, int))
    with pytest.raises(ValueError, match="weight_decay"):
        search.Trials(np.array([1e-3]), np.array([-1.0]), np.zeros(1, int))
    with pytest.raises(ValueError, match="seeds"):
        search.Trials(np.array([1e-3]), np.zeros(1), np.array([0.5]))
    with pytest.raises(TypeError, match="non-empty list"):
        search.grid([])
    with pytest.raises(ValueError, match="low < high"):
        search.log_uniform(jax.random.key(0), 3, 1.0, 0.1)
    with pytest.raises(ValueError, match="n must be"):
        search.random_trials(0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="unknown optimizer"):
        search.search_optimizer("rmsprop")
    with pytest.raises(TypeError, match="nnx.Module"):
        search.init_many(lambda rngs: 3, search.grid([1e-3]))
    with pytest.raises(TypeError, match="Trials"):
        search.init_many(tiny_model, [1e-3])
    with pytest.raises(ValueError, match="model index"):
        search.unstack(trained.states, 8)
    with pytest.raises(ValueError, match="holds one model"):
        search.num_models(search.unstack(trained.states, 0))
    with pytest.raises(ValueError, match="non-empty list of model indices"):
        search.select(trained.states, [9])
    with pytest.raises(ValueError, match="one seed per model"):
        search.train_epoch(trained.states, data, [0, 1], 0, batch_size=16)
    with pytest.raises(ValueError, match="batch_size"):
        search.train_epoch(trained.states, data, trained.trials.seed, 0, batch_size=100)
    with pytest.raises(TypeError, match="stacked TrainState"):
        search.evaluate_many("state", data)
    with pytest.raises(ValueError, match="epochs"):
        search.train_many(tiny_model, data, trained.trials, epochs=0, batch_size=16)
    with pytest.raises(ValueError, match="eta"):
        search.halving_survivors([1.0, 2.0], eta=1)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        search.halving_survivors([], eta=2)
    with pytest.raises(ValueError, match="rounds"):
        search.successive_halving(
            tiny_model, data, trained.trials, val_data=data, rounds=0, batch_size=16
        )
    with pytest.raises(ValueError, match="ns must be"):
        search.cost_curve(tiny_model, data, [0], batch_size=16)
    with pytest.raises(ValueError, match="unknown columns"):
        search.format_table([{"a": 1}], columns=["b"])
    with pytest.raises(ValueError, match="at least one row"):
        search.format_table([])


# ---------------------------------------------------------------- checks


def test_check_log_uniform(capsys):
    checks.log_uniform(lambda key, n, low, high: search.log_uniform(key, n, low, high))
    assert "✓ log_uniform" in capsys.readouterr().out

    def stub(key, n, low, high):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not written yet"):
        checks.log_uniform(stub)
    with pytest.raises(CheckFailed, match="exponent"):  # uniform, not log-uniform
        checks.log_uniform(
            lambda key, n, low, high: np.asarray(
                jax.random.uniform(key, (n,), minval=low, maxval=high)
            )
        )
    with pytest.raises(CheckFailed, match="exponents"):  # 10 ** uniform(low, high)
        checks.log_uniform(
            lambda key, n, low, high: (
                10 ** np.asarray(jax.random.uniform(key, (n,), minval=low, maxval=high))
            )
        )
    with pytest.raises(CheckFailed, match="same key"):
        checks.log_uniform(
            lambda key, n, low, high: np.exp(np.random.uniform(np.log(low), np.log(high), n))
        )


def test_check_halving_survivors(capsys):
    checks.halving_survivors(search.halving_survivors)
    assert "✓ halving_survivors" in capsys.readouterr().out

    def stub(scores, eta):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not written yet"):
        checks.halving_survivors(stub)
    with pytest.raises(CheckFailed, match="highest"):
        checks.halving_survivors(
            lambda s, eta: np.argsort(-np.nan_to_num(s, nan=-np.inf))[: int(np.ceil(len(s) / eta))]
        )
    with pytest.raises(CheckFailed, match="rounds down"):
        checks.halving_survivors(lambda s, eta: np.argsort(s)[: len(s) // eta])
    with pytest.raises(CheckFailed, match="NaN"):
        checks.halving_survivors(
            lambda s, eta: np.argsort(np.nan_to_num(s, nan=-1.0))[: int(np.ceil(len(s) / eta))]
        )


# ---------------------------------------------------------------- plots


def test_plots(trained):
    fig = plot.cost_curve([1, 2, 4], [0.1, 0.12, 0.2])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    values = trained.final("val_loss").copy()
    values[0] = np.nan
    fig = plot.lr_sensitivity(
        trained.trials.learning_rate, values, groups=trained.trials.seed, best=3e-2
    )
    assert isinstance(fig, Figure)
    rounds = [
        {"trials": np.arange(4), "epochs": 1, "scores": np.array([0.5, 0.4, np.nan, 0.3])},
        {"trials": np.array([3, 1]), "epochs": 2, "scores": np.array([0.2, 0.3])},
    ]
    assert isinstance(plot.halving_rounds(rounds, [1e-3, 1e-2, 1.0, 3e-3]), Figure)
    with pytest.raises(ValueError, match="start with 1"):
        plot.cost_curve([2, 4], [0.1, 0.2])
    with pytest.raises(ValueError, match="1-D arrays"):
        plot.lr_sensitivity([1e-3], [0.1, 0.2])
    with pytest.raises(ValueError, match="no rounds"):
        plot.halving_rounds([], [1e-3])
