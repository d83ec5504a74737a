#!/usr/bin/env python3
"""Build one deterministic Lambda zip per function into dist/, plus dist/manifest.json.

    python build.py [--out DIR]

Steps: copy functions/ to a scratch folder, build its wheel with PyPA `build`, install the wheel
into a staging folder (no deps, no bytecode), then zip for each function the shared `chat`
package plus that function's own handler module.

Same source, same bytes, on any machine: entries sorted, timestamps fixed at 1980-01-01,
permissions normalised (0644; 0755 for native libraries), no __pycache__ or build metadata of
our own, and entries stored uncompressed (deflate output depends on the zlib build; stored bytes
do not). boto3 comes with the Lambda runtime and Powertools with AWS's Powertools layer: neither
is shipped.

One function ships third-party code: the authorizer verifies OIDC tokens with PyJWT and
cryptography. ``functions/authorizer-requirements.txt`` pins them with sha256 hashes; their wheels
for the Lambda platform (manylinux2014 aarch64, CPython 3.13) are downloaded from PyPI once with
``pip download --require-hashes`` into build/vendor-wheels/ (reused while the hashes match: later
builds need no network), unpacked, and added to the authorizer's zip only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "functions"
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
MAX_ZIP_BYTES = 200 * 1024
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Third-party packages per function (requirements pinned by hash) and the zip budget with them.
VENDORED: dict[str, Path] = {"authorizer": SOURCE / "authorizer-requirements.txt"}
MAX_VENDORED_ZIP_BYTES = 24 * 1024 * 1024
WHEEL_CACHE = ROOT / "build" / "vendor-wheels"
LAMBDA_PLATFORM = ["--platform", "manylinux2014_aarch64", "--python-version", "3.13", "--implementation", "cp"]

# The route contract (functions/chat/routes.py) names every function; one zip each.
sys.path.insert(0, str(SOURCE))
from chat import routes  # noqa: E402

FUNCTIONS: dict[str, str] = {function.name: function.handler for function in routes.FUNCTIONS}


class BuildError(RuntimeError):
    pass


def _run(cmd: list[str], what: str, cwd: Path) -> None:
    # cwd matters: run from the repo root, `python -m build` would import this file instead of PyPA build.
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    if result.returncode != 0:
        raise BuildError(f"{what} failed ({' '.join(cmd)}):\n{result.stdout}{result.stderr}")


def build_wheel(scratch: Path) -> Path:
    """Build the functions wheel from a copy of the source, so the tree is never written to."""
    source = scratch / "src"
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info"))
    wheels = scratch / "wheel"
    _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheels), str(source)],
        "python -m build (is the 'build' dependency group installed? run `make setup`)",
        scratch,
    )
    (wheel,) = wheels.glob("*.whl")
    return wheel


def install_wheel(wheel: Path, staging: Path) -> None:
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(staging),
            str(wheel),
        ],
        "pip install of the functions wheel",
        staging.parent,
    )


@dataclass(frozen=True)
class Requirement:
    name: str
    version: str
    hashes: frozenset[str]


def read_requirements(path: Path) -> list[Requirement]:
    """``name==version --hash=sha256:...`` lines: exact pins, every one with a hash."""
    requirements = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split()
        name, sep, version = spec.partition("==")
        hashes = frozenset(o.removeprefix("--hash=sha256:") for o in options if o.startswith("--hash=sha256:"))
        if not sep or not name or not version or not hashes:
            raise BuildError(f"{path.name}:{number}: expected 'name==version --hash=sha256:...', got {raw!r}")
        requirements.append(Requirement(name, version, hashes))
    return requirements


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cached_wheels(requirements: list[Requirement], cache: Path) -> list[Path] | None:
    """One cached wheel per requirement whose sha256 is pinned, or None if any is missing."""
    by_hash = {_sha256(p): p for p in sorted(cache.glob("*.whl"))} if cache.is_dir() else {}
    found = []
    for requirement in requirements:
        matches = [by_hash[h] for h in sorted(requirement.hashes) if h in by_hash]
        if not matches:
            return None
        found.append(matches[0])
    return found


def vendor_wheels(requirements_file: Path, cache: Path = WHEEL_CACHE) -> list[Path]:
    """The pinned wheels for the Lambda platform: from the cache, else from PyPI (hash-checked)."""
    requirements = read_requirements(requirements_file)
    wheels = _cached_wheels(requirements, cache)
    if wheels is None:
        cache.mkdir(parents=True, exist_ok=True)
        print(f"downloading {', '.join(f'{r.name}=={r.version}' for r in requirements)} for the Lambda platform ...")
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                *LAMBDA_PLATFORM,
                "--require-hashes",
                "--requirement",
                str(requirements_file),
                "--dest",
                str(cache),
            ],
            f"pip download of {requirements_file.name} (needs PyPI once; later builds use {cache})",
            ROOT,
        )
        wheels = _cached_wheels(requirements, cache)
        if wheels is None:
            raise BuildError(f"pip download did not produce a wheel matching every hash in {requirements_file}")
    return wheels


def unpack_wheels(wheels: list[Path], target: Path) -> list[Path]:
    """Unpack wheels (zips) into ``target``; refuses entries that would land outside it."""
    target.mkdir(parents=True)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                destination = (target / name).resolve()
                if not destination.is_relative_to(target.resolve()) or name.endswith("/"):
                    if name.endswith("/"):
                        continue
                    raise BuildError(f"{wheel.name}: entry {name!r} escapes the target folder")
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(archive.read(name))
    return sorted((p for p in target.rglob("*") if p.is_file()), key=lambda p: p.relative_to(target).as_posix())


def function_files(staging: Path, function: str) -> list[Path]:
    """The shared package plus this function's handler (other handlers stay out of its zip)."""
    package = staging / "chat"
    handler = package / "handlers" / f"{function}.py"
    if not handler.is_file():
        raise BuildError(f"no handler module for {function!r}: expected functions/chat/handlers/{function}.py")
    files = [p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return sorted(
        (p for p in files if p.parent != package / "handlers" or p.name in ("__init__.py", handler.name)),
        key=lambda p: p.relative_to(staging).as_posix(),
    )


def write_zip(entries: list[tuple[str, Path]], target: Path) -> bytes:
    """``entries``: (name in the zip, file). Sorted by name, fixed time and modes, stored."""
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            native = path.suffix == ".so" or ".so." in path.name
            info.external_attr = (0o100755 if native else 0o100644) << 16
            info.create_system = 3  # unix, whatever the build host is
            archive.writestr(info, path.read_bytes())
    tmp.replace(target)
    return target.read_bytes()


def build(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    manifest: dict = {
        "runtime": RUNTIME,
        "architecture": ARCHITECTURE,
        "functions": {},
        "routes": routes.manifest_routes(),
    }
    with tempfile.TemporaryDirectory(prefix="dynamowave-build-") as tmp:
        scratch = Path(tmp)
        print(f"building the functions wheel from {SOURCE.relative_to(ROOT)}/ ...", flush=True)
        wheel = build_wheel(scratch)
        staging = scratch / "staging"
        install_wheel(wheel, staging)
        for function, handler in FUNCTIONS.items():
            target = out / f"{function}.zip"
            entries = [(p.relative_to(staging).as_posix(), p) for p in function_files(staging, function)]
            budget = MAX_ZIP_BYTES
            if function in VENDORED:
                vendor = scratch / f"vendor-{function}"
                vendored = unpack_wheels(vendor_wheels(VENDORED[function]), vendor)
                entries += [(p.relative_to(vendor).as_posix(), p) for p in vendored]
                budget = MAX_VENDORED_ZIP_BYTES
            names = [name for name, _ in entries]
            if len(set(names)) != len(names):
                raise BuildError(f"{function}: a vendored file collides with the chat package")
            data = write_zip(entries, target)
            if len(data) > budget:
                raise BuildError(f"{target} is {len(data)} bytes, over the {budget} byte budget")
            sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
            manifest["functions"][function] = {"zip": target.name, "handler": handler, "sha256": sha, "size": len(data)}
            print(f"  {function:<13} {target.name:<18} {len(data) / 1024:6.1f} KB  sha256 {sha}", flush=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(FUNCTIONS)} zips and manifest.json to {out} in {time.monotonic() - started:.1f}s")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    try:
        build(args.out.resolve())
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
