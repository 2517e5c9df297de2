"""``python -m benchmarks.cifar10``: its FLOP count, the chip table, a tiny run and its report (no speed asserted)."""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import cifar10  # noqa: E402
from leptonlab import models  # noqa: E402


def test_forward_flops_counts_each_convolution_and_product_once():
    model = models.ResNet(10, width=4, stages=(1,), stem_stride=1, rngs=nnx.Rngs(0))
    x = jnp.zeros((2, 8, 8, 3))
    outputs = 2 * 8 * 8 * 4  # every 3x3 convolution here writes [2, 8, 8, 4]
    stem, block = 2 * outputs * 3 * 3 * 3, 2 * (2 * outputs * 3 * 3 * 4)  # 2 per multiply-add
    head = 2 * 2 * 4 * 10  # dense 4 -> 10 on 2 images
    # the convolutions are lax.platform_dependent (a cond with a CPU and a GPU branch): counted once
    assert cifar10.forward_flops(model, x) == stem + block + head


def test_jaxpr_flops_counts_a_scan_body_length_times():
    def body(carry, w):  # carry [4, 8] @ w [8, 8]
        return carry @ w, None

    jaxpr = jax.make_jaxpr(lambda c, ws: jax.lax.scan(body, c, ws)[0])(
        jnp.zeros((4, 8)), jnp.zeros((5, 8, 8))
    )
    assert cifar10.jaxpr_flops(jaxpr.jaxpr) == 5 * (2 * 4 * 8 * 8)


@pytest.mark.parametrize(
    "kind, dtype, peak",
    [
        ("NVIDIA H100 PCIe", "bfloat16", 756e12),
        ("NVIDIA H100 80GB HBM3", "bfloat16", 989e12),
        ("NVIDIA H200", "bfloat16", 989e12),
        ("NVIDIA H200", "float32", None),
        ("cpu", "bfloat16", None),
    ],
)
def test_peak_flops_by_chip(kind, dtype, peak):
    assert cifar10.peak_flops(kind, dtype) == peak


def test_recipe_defaults_are_notebook_15s_gpu_settings():
    cells = json.loads((ROOT / "notebooks" / "16_cifar10_classifier.ipynb").read_text())["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    r = cifar10.Recipe()
    gpu_branch = source.split("elif ON_GPU:")[1].split("else:")[0]
    assert (
        f"EPOCHS, BATCH, LR = None, None, {r.epochs}, {r.batch_size}, {r.learning_rate}"
        in gpu_branch
    )
    assert (
        f"RESNET = dict(width={r.width}, stages={r.stages}, stem_stride={r.stem_stride})"
        in gpu_branch
    )
    assert f"SmoothedClassificationLoss({r.smoothing})" in source
    assert f"weight_decay={r.weight_decay:.0e}".replace("e-04", "e-4") in source
    assert 'COMPUTE_DTYPE = "bfloat16" if ON_GPU' in source and 'optimizer="momentum"' in source


TINY = cifar10.Recipe(
    epochs=2,
    batch_size=32,
    learning_rate=0.05,
    width=4,
    stages=(1,),
    stem_stride=2,
    compute_dtype="float32",
)


def _images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n).astype(
        np.int32
    )


def test_run_recipe_reports_accuracy_time_and_flops():
    (x, y), (xt, yt) = _images(128, 0), _images(64, 1)
    result = cifar10.run_recipe(x, y, xt, yt, TINY, data="synthetic", targets=(0.05, 0.99))
    assert result["steps_per_epoch"] == 4 and len(result["val_accuracy"]) == 2
    assert (
        all(0 <= a <= 1 for a in result["val_accuracy"]) and 0 <= result["test_accuracy_tta"] <= 1
    )
    assert result["time_to_accuracy_s"]["0.99"] is None  # random labels: never reached
    assert result["step_flops"] == 3 * cifar10.forward_flops(
        models.ResNet(10, width=4, stages=(1,), stem_stride=2, rngs=nnx.Rngs(0)),
        jnp.zeros((32, 32, 32, 3)),
    )
    assert result["train_samples_per_s"] > 0 and result["achieved_flops_per_s"] > 0
    assert result["flop_utilisation"] is None  # float32 on a CPU: no peak to compare with
    report = cifar10.format_report(result)
    assert (
        "data: synthetic (128 training, 64 test images)" in report and "99% not reached" in report
    )
    assert "GFLOP (3x the forward pass" in report


def test_main_writes_json_and_names_its_data(tmp_path, monkeypatch, capsys):
    _fake_loader(monkeypatch)
    out = tmp_path / "c10.json"
    assert (
        cifar10.main(
            [
                "--epochs",
                "1",
                "--batch-size",
                "32",
                "--width",
                "4",
                "--stages",
                "1",
                "--stem-stride",
                "2",
                "--compute-dtype",
                "float32",
                "--train-images",
                "100",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert result["data"] == "offline CIFAR-10 PNG subset" and result["train_images"] == 100
    assert result["recipe"]["stages"] == [1] and "wrote" in capsys.readouterr().out


def test_balanced_subset_takes_the_first_of_each_class():
    y = np.array([0, 1, 0, 1, 2, 2, 0])
    np.testing.assert_array_equal(cifar10.balanced_subset(y, 6, classes=3), [0, 1, 2, 3, 4, 5])


def test_torch_reference_trains_the_twin():
    pytest.importorskip("torch")
    x, y = _images(96, 0)
    result = cifar10.torch_reference(x, y, TINY, epochs=2)
    assert result["device"] in ("cpu", "cuda") and len(result["epoch_seconds"]) == 2
    assert result["train_samples_per_s"] > 0 and np.isfinite(result["final_loss"])


def test_child_arguments_rebuild_the_recipe():
    recipe = cifar10.Recipe(epochs=3, stages=(1, 2), compute_dtype="float32", learning_rate=0.25)
    args = cifar10._parser().parse_args(["--train-images", "500", "--targets", "0.5,0.6"])
    again = cifar10._parser().parse_args(cifar10._recipe_argv(recipe, args))
    assert (
        cifar10.Recipe(**{f: getattr(again, f) for f in cifar10.Recipe.__dataclass_fields__})
        == recipe
    )
    assert again.train_images == 500 and again.targets == (0.5, 0.6)


def test_pytorch_report_gives_the_ratio_or_the_error():
    theirs = {
        "torch": "2.x",
        "device": "cpu",
        "bf16_autocast": False,
        "threads": 2,
        "test_accuracy": 0.5,
        "time_to_accuracy_s": {"0.40": 12.0, "0.90": None},
        "train_epoch_s": 2.0,
        "train_samples_per_s": 1000.0,
    }
    text = cifar10.format_pytorch(theirs, {"train_samples_per_s": 800.0})
    assert "40% in 12.0 s, 90% not reached" in text and "0.80x PyTorch's" in text
    assert (
        cifar10.format_pytorch({"error": "ModuleNotFoundError: torch"}, {})
        == "PyTorch: ModuleNotFoundError: torch"
    )


def _fake_loader(monkeypatch):
    from leptonlab import data

    class Info:
        official = False

    def fake_load(split, return_info=False):
        x, y = _images(200 if split == "train" else 40, 0 if split == "train" else 1)
        return (x, y, Info()) if return_info else (x, y)

    monkeypatch.setattr(data, "load_cifar10", fake_load)


def test_packed_arrays_carry_the_data_to_a_machine_without_it(tmp_path, monkeypatch, capsys):
    _fake_loader(monkeypatch)
    packed = tmp_path / "sub" / "c10.npz.xz"
    assert cifar10.main(["--pack-arrays", str(packed), "--train-images", "100"]) == 0
    said = capsys.readouterr().out
    assert "100 training and 40 test images from the offline CIFAR-10 PNG subset" in said
    arrays, source = cifar10.load_arrays(packed)
    x, y = _images(200, 0)
    keep = cifar10.balanced_subset(y, 100)
    np.testing.assert_array_equal(arrays["x_train"], x[keep])
    np.testing.assert_array_equal(arrays["y_test"], _images(40, 1)[1])
    assert source == "offline CIFAR-10 PNG subset"
    assert f"arrays sha256 {cifar10.arrays_digest(arrays)}" in said
    assert not list(packed.parent.glob(".*.tmp"))  # nothing half-written left beside it

    monkeypatch.undo()  # no loader from here on: the recipe must read the packed file
    out = tmp_path / "run.json"
    argv = ["--epochs", "1", "--batch-size", "32", "--width", "4", "--stages", "1"]
    argv += ["--compute-dtype", "float32", "--arrays", str(packed), "--json", str(out)]
    monkeypatch.setattr(
        "leptonlab.data.load_cifar10", lambda *a, **k: pytest.fail("read the dataset")
    )
    assert cifar10.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["train_images"] == 100 and result["test_images"] == 40
    assert result["data"].startswith("offline CIFAR-10 PNG subset, from c10.npz.xz (arrays sha256 ")


def test_a_missing_damaged_or_foreign_arrays_file_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="--pack-arrays"):
        cifar10.load_arrays(tmp_path / "nowhere.npz.xz")
    x, y = _images(20, 0)
    good = tmp_path / "good.npz.xz"
    cifar10.pack_arrays(good, dict(x_train=x, y_train=y, x_test=x, y_test=y), "test data")
    damaged = tmp_path / "damaged.npz.xz"
    damaged.write_bytes(good.read_bytes()[:-100])  # cut off in transit
    with pytest.raises(ValueError, match="damaged in transit.*Write and copy it again"):
        cifar10.load_arrays(damaged)
    foreign = tmp_path / "foreign.npz.xz"
    cifar10.pack_arrays(foreign, dict(x_train=x[:, :16], y_train=y, x_test=x, y_test=y), "cropped")
    with pytest.raises(ValueError, match=r"x_train must be \[N, 32, 32, 3\] uint8"):
        cifar10.load_arrays(foreign)


def test_packing_is_only_packing():
    assert cifar10.main(["--pack-arrays", "x.npz.xz", "--pytorch"]) == 2
