#!/usr/bin/env python3
"""Build one deterministic Lambda zip per function into dist/, plus dist/manifest.json.

    python build.py [--out DIR]

Steps: copy functions/ to a scratch folder, build its wheel with PyPA `build`, install the wheel
into a staging folder (no deps, no bytecode), then zip for each function the shared `chat`
package plus that function's own handler module.

Same source, same bytes, on any machine: entries sorted, timestamps fixed at 1980-01-01,
permissions normalised to 0644, no __pycache__ or dist-info, and entries stored uncompressed
(deflate output depends on the zlib build; stored bytes do not). No third-party runtime
dependencies are shipped: boto3 comes with the Lambda runtime.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "functions"
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
MAX_ZIP_BYTES = 200 * 1024
FIXED_TIME = (1980, 1, 1, 0, 0, 0)

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


def write_zip(staging: Path, files: list[Path], target: Path) -> bytes:
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(staging).as_posix(), date_time=FIXED_TIME)
            info.external_attr = 0o100644 << 16
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
            data = write_zip(staging, function_files(staging, function), target)
            if len(data) > MAX_ZIP_BYTES:
                raise BuildError(f"{target} is {len(data)} bytes, over the {MAX_ZIP_BYTES} byte budget")
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
