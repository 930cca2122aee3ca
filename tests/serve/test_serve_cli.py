"""`e5v serve` as a subprocess on loopback: starts, answers /health and auth-protected requests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import numpy as np


def test_serve_command_on_loopback(tmp_path, embedder, served_index):
    from e5v import Embedder
    from e5v.collection import read_collection
    from e5v.index import index_collection

    model_dir = tmp_path / "tiny"
    embedder.save_pretrained(model_dir)
    loaded = Embedder.from_pretrained(model_dir, device="cpu")  # named after its folder, as the CLI loads it
    _, images = served_index
    index_dir = tmp_path / "index"
    index_collection(read_collection(images), index_dir, loaded, show_progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "E5V_API_TOKEN": "cli-secret"}
    command = [
        sys.executable,
        "-c",
        "from e5v.cli import main; main()",
        "serve",
        "--model",
        str(model_dir),
        "--index",
        str(index_dir),
    ]
    command += ["--host", "127.0.0.1", "--port", "0", "--allowed-dir", str(images), "--max-batch-size", "4"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url, deadline, seen = None, time.monotonic() + 90, []
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if not line and proc.poll() is not None:
                raise AssertionError(f"e5v serve exited ({proc.returncode}):\n" + "".join(seen[-30:]))
            match = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line)
            url = match.group(1) if match else None
        assert url is not None
        with httpx.Client(base_url=url, timeout=30) as http:
            assert http.get("/health").json()["index_rows"] == 3
            assert http.post("/v1/embeddings", json={"input": "hi"}).status_code == 401
            ok = http.post(
                "/v1/embeddings", json={"input": ["hi there"]}, headers={"Authorization": "Bearer cli-secret"}
            )
            vector = np.array(ok.json()["data"][0]["embedding"])
            np.testing.assert_allclose(
                vector, embedder.encode(["hi there"], show_progress=False)[0], atol=1e-5
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
