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
        budget = 24 * 1024 * 1024 if name == "authorizer" else 200 * 1024
        assert entry["size"] == len(data) < budget
        assert entry["handler"] == f"chat.handlers.{name}.handler"
        assert name in output  # one progress line per function


VENDORED_TOP_LEVEL = {"jwt", "cryptography", "cffi"}


def test_zips_hold_only_the_package_and_their_own_handler(builds) -> None:
    first, _, _ = builds
    for zip_path in first.glob("*.zip"):
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        ours = [n for n in names if n.startswith("chat/")]
        assert all(n.endswith(".py") for n in ours), ours
        handlers = [n for n in ours if n.startswith("chat/handlers/") and n != "chat/handlers/__init__.py"]
        assert handlers == [f"chat/handlers/{zip_path.stem}.py"]
        assert not any("__pycache__" in n or "boto" in n or "powertools" in n for n in names)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        modes = {i.filename: i.external_attr >> 16 for i in infos}
        assert {m for n, m in modes.items() if not n.endswith(".so")} == {0o100644}
        assert {m for n, m in modes.items() if n.endswith(".so")} <= {0o100755}
        top_level = {n.split("/")[0] for n in names}
        if zip_path.stem == "authorizer":
            # PyJWT, cryptography (its Rust extension for aarch64) and the cffi backend it loads.
            assert top_level >= VENDORED_TOP_LEVEL
            assert "cryptography/hazmat/bindings/_rust.abi3.so" in names
            assert any(n.startswith("_cffi_backend.cpython-313-aarch64") for n in names)
            assert not any(n.startswith("pycparser") for n in names)
        else:
            assert top_level == {"chat"}, (zip_path.name, top_level)


def test_vendored_wheels_are_pinned_by_hash_for_the_lambda_platform() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        import build as build_module
    finally:
        sys.path.pop(0)
    requirements = build_module.read_requirements(ROOT / "functions" / "authorizer-requirements.txt")
    assert {r.name.lower() for r in requirements} == {"pyjwt", "cryptography", "cffi"}
    assert all(r.hashes and all(len(h) == 64 for h in r.hashes) for r in requirements)
    assert "manylinux2014_aarch64" in build_module.LAMBDA_PLATFORM and "3.13" in build_module.LAMBDA_PLATFORM
    wheels = build_module.vendor_wheels(ROOT / "functions" / "authorizer-requirements.txt")
    assert all(
        hashlib.sha256(w.read_bytes()).hexdigest() in r.hashes for w, r in zip(wheels, requirements, strict=True)
    )
    assert all(("aarch64" in w.name and "cp313" in w.name) or "abi3" in w.name or "none-any" in w.name for w in wheels)


def test_a_wheel_whose_hash_does_not_match_is_never_used(tmp_path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        import build as build_module
    finally:
        sys.path.pop(0)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "pyjwt-2.15.1-py3-none-any.whl").write_bytes(b"not the real wheel")
    requirements = tmp_path / "req.txt"
    requirements.write_text("pyjwt==2.15.1 --hash=sha256:" + "0" * 64 + "\n")
    assert build_module._cached_wheels(build_module.read_requirements(requirements), cache) is None
    requirements.write_text("pyjwt==2.15.1\n")  # no hash: refused before anything is downloaded
    with pytest.raises(build_module.BuildError, match="hash"):
        build_module.read_requirements(requirements)


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
