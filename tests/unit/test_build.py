"""build.py: byte-identical zips on every rebuild, small, with exactly what Lambda needs."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build(out: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> tuple[Path, Path, str]:
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    output = build(first)
    build(second)
    return first, second, output


def test_rebuild_is_byte_identical(builds) -> None:
    first, second, _ = builds
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_build_from_a_copied_tree_matches(builds, tmp_path) -> None:
    """Another checkout path (as on a fresh clone) changes nothing."""
    first, _, _ = builds
    copy = tmp_path / "elsewhere"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", "node_modules", "dist", ".git", ".terraform*"))
    result = subprocess.run(
        [sys.executable, str(copy / "build.py"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for zip_path in first.glob("*.zip"):
        assert (tmp_path / "out" / zip_path.name).read_bytes() == zip_path.read_bytes(), zip_path.name


def test_manifest_describes_every_zip(builds) -> None:
    first, _, output = builds
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["runtime"].startswith("python3.") and manifest["architecture"] == "arm64"
    sys.path.insert(0, str(ROOT))
    try:
        from build import FUNCTIONS
    finally:
        sys.path.pop(0)
    assert set(manifest["functions"]) == set(FUNCTIONS)
    for name, entry in manifest["functions"].items():
        data = (first / entry["zip"]).read_bytes()
        assert entry["sha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert entry["size"] == len(data) < 200 * 1024
        assert entry["handler"] == f"chat.handlers.{name}.handler"
        assert name in output  # one progress line per function


def test_zips_hold_only_the_package_and_their_own_handler(builds) -> None:
    first, _, _ = builds
    for zip_path in first.glob("*.zip"):
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert all(n.startswith("chat/") and n.endswith(".py") for n in names), names
        handlers = [n for n in names if n.startswith("chat/handlers/") and n != "chat/handlers/__init__.py"]
        assert handlers == [f"chat/handlers/{zip_path.stem}.py"]
        assert not any("__pycache__" in n or "boto" in n or "dist-info" in n for n in names)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_each_zip_imports_its_handler_in_isolation(builds, tmp_path) -> None:
    """The zip alone (plus boto3, as in the Lambda runtime) is enough to import the handler."""
    first, _, _ = builds
    for zip_path in first.glob("*.zip"):
        code = (
            f"import chat.handlers.{zip_path.stem} as m; assert callable(m.handler); "
            f"assert m.__file__.startswith({str(zip_path)!r}), m.__file__"
        )
        env = {"PYTHONPATH": str(zip_path), "PATH": "/usr/bin:/bin"}
        result = subprocess.run(
            [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(zip_path)!r}); {code}"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, (zip_path.name, result.stderr)
