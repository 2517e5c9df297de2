"""Export with jax.export + Orbax, reload in a fresh process, and the validated `leptonlab predict` command."""

import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest
from flax import nnx
from PIL import Image

from leptonlab import deploy
from leptonlab.cli import EXIT_OK, EXIT_USAGE, main
from leptonlab.models import CNN
from leptonlab.train import TrainState, predict


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small MNIST-shaped CNN with batch norm (its statistics must travel too), exported once."""
    state = TrainState.create(
        CNN(channels=(4,), dense=8, batch_norm=True, rngs=nnx.Rngs(0)),
        optax.adam(1e-3),
        key=jax.random.key(0),
    )
    # Non-trivial batch statistics, so that forgetting them would change the predictions.
    rest = jax.tree.map(lambda a: a + 0.3, state.rest)
    state = state.replace(rest=rest)
    x = np.random.default_rng(0).random((40, 28, 28)).astype(np.float32)
    monitor = deploy.DriftMonitor.fit(x, key=jax.random.key(1), batch_size=16, n_batches=5)
    model_dir = deploy.export_model(
        state,
        tmp_path_factory.mktemp("export") / "mnist",
        drift=monitor,
        class_names=[f"digit {i}" for i in range(10)],
    )
    return state, model_dir, x


def test_the_export_folder_holds_stablehlo_orbax_params_and_metadata(trained):
    _, model_dir, _ = trained
    assert (model_dir / "model.jaxexport").stat().st_size > 0
    assert (model_dir / "params").is_dir() and (model_dir / "meta.json").is_file()
    loaded = deploy.load_exported(model_dir)
    assert loaded.meta["input_shape"] == [28, 28] and loaded.meta["num_classes"] == 10
    assert "cpu" in loaded.meta["platforms"]
    assert loaded.drift is not None and loaded.class_names[3] == "digit 3"


@pytest.mark.parametrize("batch", [1, 7])
def test_reloaded_model_predicts_as_the_trained_one_for_any_batch_size(trained, batch):
    state, model_dir, x = trained
    loaded = deploy.load_exported(model_dir)
    np.testing.assert_allclose(
        loaded.logits(x[:batch]), predict(state, x[:batch]), rtol=1e-5, atol=1e-5
    )
    labels, probs = loaded.predict((x[:batch] * 255).astype(np.uint8))  # uint8 pixels are scaled
    assert labels.shape == (batch,) and probs.shape == (batch, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_round_trip_in_a_fresh_process_without_leptonlab(trained, tmp_path):
    state, model_dir, x = trained
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import jax, numpy as np
        import orbax.checkpoint as ocp
        model_dir = Path({str(model_dir)!r})
        exported = jax.export.deserialize(bytearray((model_dir / "model.jaxexport").read_bytes()))
        with ocp.StandardCheckpointer() as ckpt:
            params = ckpt.restore((model_dir / "params").absolute())
        logits = exported.call(params, np.load({str(tmp_path / "x.npy")!r}))
        np.save({str(tmp_path / "logits.npy")!r}, np.asarray(logits))
        assert not any(name.startswith(("leptonlab", "flax", "optax")) for name in sys.modules), "training code loaded"
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=240,
        env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(
        np.load(tmp_path / "logits.npy"), predict(state, x), rtol=1e-5, atol=1e-5
    )


def test_predict_command_prints_one_line_per_image(trained, tmp_path, capsys):
    state, model_dir, x = trained
    paths = []
    for i in range(2):
        pixels = (x[i] * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    np.save(tmp_path / "2.npy", x[2])
    paths.append(str(tmp_path / "2.npy"))
    assert main(["predict", str(model_dir), *paths, "--top", "3"]) == EXIT_OK
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    want = np.asarray(
        predict(state, np.stack([np.round(x[0] * 255) / 255, np.round(x[1] * 255) / 255, x[2]]))
    )
    for line, path, logits in zip(lines, paths, want):
        assert line.startswith(f"{path}: digit {int(logits.argmax())} (") and "; then " in line


def _write_bad_inputs(folder):
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(folder / "big.png")
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(folder / "colour.png")
    Image.new("I;16", (28, 28)).save(folder / "deep.png")
    (folder / "notes.png").write_text("this is not an image\n")
    np.save(folder / "bright.npy", np.full((28, 28), 255.0, np.float32))
    np.save(folder / "nan.npy", np.full((28, 28), np.nan, np.float32))
    np.save(folder / "ints.npy", np.zeros((28, 28), np.int64))
    np.save(folder / "flat.npy", np.zeros(784, np.float32))
    (folder / "sub").mkdir()


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing.png", "missing.png: no such file"),
        ("notes.png", "notes.png: not a decodable image file"),
        ("big.png", "big.png: image is 32x32 pixels; the model takes 28x28"),
        (
            "colour.png",
            "colour.png: image mode RGB (colour (3 channels)); the model takes 8-bit grayscale",
        ),
        ("deep.png", "deep.png: image mode I;16 (16-bit grayscale)"),
        ("bright.npy", "lie outside the model's range [0, 1] (pixels 0..255? divide by 255)"),
        ("nan.npy", "contains NaN or infinity"),
        ("ints.npy", "dtype int64; only uint8 pixels"),
        (
            "flat.npy",
            "flat.npy: array of shape (784,); the model takes one example of shape (28, 28)",
        ),
        ("sub", "sub: not a file"),
    ],
)
def test_predict_rejects_bad_input_with_one_line_and_exit_code_2(
    trained, tmp_path, capsys, name, message
):
    _, model_dir, _ = trained
    _write_bad_inputs(tmp_path)
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "good.png")
    assert (
        main(["predict", str(model_dir), str(tmp_path / "good.png"), str(tmp_path / name)])
        == EXIT_USAGE
    )
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("leptonlab: error: ") and message in err, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict"], "required: MODEL_DIR, IMAGE"),
        (["predict", "MODEL"], "required: IMAGE"),
        (["predict", "no/such/model", "x.png"], "no/such/model: no such model folder"),
        (["predict", ".", "x.png"], "not an exported model (missing meta.json"),
        (["predict", ".", "x.png", "--top", "0"], "expected a positive integer"),
    ],
)
def test_predict_usage_errors(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_export_rejects_bad_input(trained, tmp_path):
    state, model_dir, _ = trained
    with pytest.raises(TypeError, match="nnx.Module or a TrainState"):
        deploy.export_model({"w": np.ones(3)}, tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        deploy.export_model(state, model_dir)
    with pytest.raises(ValueError, match="3 class names for a model with 10 outputs"):
        deploy.export_model(state, tmp_path / "m", class_names=["a", "b", "c"])
    (tmp_path / "keep").mkdir()
    with pytest.raises(ValueError, match="not an exported model: refusing"):
        deploy.export_model(state, tmp_path / "keep", overwrite=True)
    with pytest.raises(deploy.InputError, match="takes a batch"):
        deploy.load_exported(model_dir).logits(np.zeros((28, 28), np.float32))


def _png_claiming(path, width, height):
    """A valid 28x28 PNG whose header (IHDR) claims ``width`` x ``height`` pixels, CRC fixed."""
    import struct
    import zlib

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    start = data.index(b"IHDR")  # 4-byte type, then 13 bytes of fields, then the CRC
    data[start + 4 : start + 12] = struct.pack(">II", width, height)
    data[start + 17 : start + 21] = struct.pack(">I", zlib.crc32(bytes(data[start : start + 17])))
    path.write_bytes(bytes(data))


def test_predict_refuses_a_decompression_bomb_from_its_header(
    trained, tmp_path, capsys, monkeypatch
):
    _, model_dir, _ = trained
    _png_claiming(tmp_path / "bomb.png", 20_000, 20_000)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("pixels were decoded"))
    assert main(["predict", str(model_dir), str(tmp_path / "bomb.png")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "bomb.png: the image header claims more pixels than Pillow" in err
    ), err


def _damaged_copy(model_dir, tmp_path, damage):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    damage(copy)
    return copy


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda d: (d / "meta.json").write_text('{"format": '),
            "meta.json: damaged, not valid JSON",
        ),
        (
            lambda d: (d / "meta.json").write_text("[1, 2]"),
            "meta.json: damaged, expected a JSON object",
        ),
        (
            lambda d: (d / "meta.json").write_text(
                (d / "meta.json").read_text().replace('"input_shape"', '"shape"')
            ),
            "meta.json: damaged, the field 'input_shape' is missing",
        ),
        (
            lambda d: (d / "model.jaxexport").write_bytes(
                (d / "model.jaxexport").read_bytes()[:100]
            ),
            "model.jaxexport: damaged or not a jax.export file",
        ),
        (
            lambda d: [p.write_bytes(b"\0" * 10) for p in (d / "params").rglob("*") if p.is_file()],
            "params: the parameters cannot be read",
        ),
    ],
)
def test_a_damaged_model_folder_is_one_line_naming_the_file(
    trained, tmp_path, capsys, damage, message
):
    _, model_dir, _ = trained
    damaged = _damaged_copy(model_dir, tmp_path, damage)
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "good.png")
    assert main(["predict", str(damaged), str(tmp_path / "good.png")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("leptonlab: error: ") and err.count("\n") == 1 and message in err, err
