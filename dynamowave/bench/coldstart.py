"""Handler cold starts and deployment package sizes.

Cold start: scripts/coldstart.py's ``measure(function_name)`` when the checkout has it; otherwise
each function is measured here in a fresh interpreter (what a new Lambda execution environment
pays, minus the runtime's own boot): import of its handler module, first client creation (the
dependencies factory and the DynamoDB client), and the first call (a GetItem through that client
against the local runtime's table). Zip sizes come from running build.py into a temporary folder.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dynamowave.bench.runtime import DevRuntime, clean_env

ProgressFn = Callable[[str], None]
REPO = Path(__file__).resolve().parents[2]

_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import importlib
importlib.import_module(sys.argv[1])
t1 = time.perf_counter()
from chat import clients, deps
d = deps.dependencies()
db = clients.dynamodb()
t2 = time.perf_counter()
db.get_item(TableName=d.settings.table_name, Key={"PK": {"S": "HEALTH"}, "SK": {"S": "HEALTH"}})
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "clients_ms": (t2 - t1) * 1000,
                  "first_call_ms": (t3 - t2) * 1000, "total_ms": (t3 - t0) * 1000}))
"""


def handler_modules() -> dict[str, str]:
    """function name -> handler module, from functions/chat/handlers."""
    folder = REPO / "functions" / "chat" / "handlers"
    return {p.stem: f"chat.handlers.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem != "__init__"}


def _external_measure() -> Callable[[str], dict[str, Any]] | None:
    path = REPO / "scripts" / "coldstart.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("dynamowave_bench_coldstart_script", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    measure = getattr(module, "measure", None)
    return measure if callable(measure) else None


def measure_here(runtime: DevRuntime, module: str) -> dict[str, Any]:
    env = clean_env(runtime.handler_environment())
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, module], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def cold_starts(
    runtime: DevRuntime | None, progress: ProgressFn, repeat: int = 1, only: list[str] | None = None
) -> dict[str, Any]:
    external = _external_measure()
    method = "scripts/coldstart.py measure()" if external else "fresh interpreter: import + first client + first call"
    results: dict[str, Any] = {}
    modules = handler_modules()
    unknown = sorted(set(only or ()) - set(modules))
    if unknown:
        raise ValueError(f"no handler named {', '.join(unknown)}; functions: {', '.join(modules)}")
    for function, module in modules.items():
        if only and function not in only:
            continue
        if external is not None:
            # The contract is measure(function_name); the script also takes repeat= (its runs per function).
            if "repeat" in inspect.signature(external).parameters:
                results[function] = external(function, repeat=repeat)  # type: ignore[call-arg]
            else:
                results[function] = external(function)
        else:
            assert runtime is not None
            runs = [measure_here(runtime, module) for _ in range(repeat)]
            good = sorted((r for r in runs if "error" not in r), key=lambda r: r["total_ms"])
            results[function] = good[len(good) // 2] if good else runs[0]  # the median run, by total
        row = results[function]
        shown = f"{row['total_ms']:.0f} ms" if "total_ms" in row else row.get("error", json.dumps(row))
        progress(f"coldstart: {function:<13} {shown}")
    return {"method": method, "repeat": repeat, "functions": results}


def zip_sizes(progress: ProgressFn) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dw-bench-build-") as out:
        progress("zips: running build.py")
        done = subprocess.run(
            [sys.executable, str(REPO / "build.py"), "--out", out],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={k: v for k, v in clean_env().items() if k != "PYTHONPATH"},  # build.py runs `python -m build`
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            return {"available": False, "reason": f"build.py failed: {done.stderr.strip()[-500:]}"}
        manifest = json.loads((Path(out) / "manifest.json").read_text())
    sizes = {name: int(fn["size"]) for name, fn in manifest.get("functions", {}).items()}
    progress("zips: " + ", ".join(f"{name} {size / 1024:.0f} KiB" for name, size in sizes.items()))
    return {"available": True, "bytes": sizes}
