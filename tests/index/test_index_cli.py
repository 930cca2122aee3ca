"""`e5v index` and `e5v search` end to end with the tiny LLaVA saved to disk."""

from __future__ import annotations

import json

from index_helpers import make_folder, write_image
from typer.testing import CliRunner

from e5v.cli import app


def test_index_then_search_text_image_composed(tmp_path, tiny_dir):
    runner = CliRunner()
    folder = make_folder(tmp_path / "c", n_images=4, n_texts=3)
    index = tmp_path / "idx"
    result = runner.invoke(
        app, ["index", str(folder), "--index", str(index), "--model", str(tiny_dir), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "indexed 7 new items" in result.output and "skipped 2 unreadable items" in result.output
    assert "broken.png" in result.output and "empty.jpg" in result.output

    write_image(folder / "extra.png", seed=50)
    again = runner.invoke(
        app, ["index", str(folder), "--index", str(index), "--no-progress"]
    )  # model from the index
    assert (
        again.exit_code == 0
        and "indexed 1 new items" in again.output
        and "7 were already indexed" in again.output
    )

    found = runner.invoke(
        app, ["search", "--index", str(index), "--text", "a short text number 2", "-k", "3", "--json"]
    )
    assert found.exit_code == 0, found.output
    body = json.loads(found.stdout)
    assert body["results"][0]["id"] == "text2.txt" and len(body["results"]) == 3
    by_image = runner.invoke(
        app, ["search", "-i", str(index), "--image", str(folder / "img002.png"), "--json"]
    )
    assert json.loads(by_image.stdout)["results"][0]["id"] == "img002.png"
    composed = runner.invoke(
        app, ["search", "-i", str(index), "--image", str(folder / "img002.png"), "-t", "bluer"]
    )
    assert composed.exit_code == 0 and "score" in composed.output
    assert runner.invoke(app, ["search", "-i", str(index)]).exit_code != 0  # no query
