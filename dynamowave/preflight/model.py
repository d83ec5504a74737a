"""Rows of the preflight table: one per check, OK / WARN / FAIL with the fix to apply."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

NO_CREDENTIALS = "no AWS credentials: export AWS_PROFILE=... or run aws sso login"


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Row:
    check: str  # stable key for --json consumers
    title: str  # what the table shows
    status: Status
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


def ok(check: str, title: str, detail: str) -> Row:
    return Row(check, title, Status.OK, detail)


def warn(check: str, title: str, detail: str, fix: str | None = None) -> Row:
    return Row(check, title, Status.WARN, detail, fix)


def fail(check: str, title: str, detail: str, fix: str) -> Row:
    return Row(check, title, Status.FAIL, detail, fix)


def exit_code(rows: Iterable[Row]) -> int:
    return EXIT_FAILED if any(r.status is Status.FAIL for r in rows) else EXIT_OK


def summary(rows: Sequence[Row]) -> str:
    counts = {s: sum(1 for r in rows if r.status is s) for s in Status}
    verdict = "FAILED" if counts[Status.FAIL] else "passed"
    return f"preflight {verdict}: {counts[Status.OK]} OK, {counts[Status.WARN]} WARN, {counts[Status.FAIL]} FAIL"


def format_table(rows: Sequence[Row], width: int = 110) -> str:
    """Status, check and detail in columns; the fix wrapped underneath so long commands stay readable."""
    header = ("STATUS", "CHECK", "DETAIL")
    title_w = max([len(header[1]), *(len(r.title) for r in rows)])
    status_w = 6
    indent = " " * (status_w + 2 + title_w + 2)
    detail_w = max(40, width - len(indent))
    lines = [
        f"{header[0]:<{status_w}}  {header[1]:<{title_w}}  {header[2]}",
        f"{'-' * status_w}  {'-' * title_w}  ------",
    ]
    for r in rows:
        detail = textwrap.wrap(r.detail, detail_w) or [""]
        lines.append(f"{r.status.value:<{status_w}}  {r.title:<{title_w}}  {detail[0]}")
        lines += [indent + more for more in detail[1:]]
        if r.fix:
            fix = textwrap.wrap("fix: " + r.fix, detail_w, subsequent_indent="     ")
            lines += [indent + part for part in fix]
    return "\n".join(lines)


def to_json(env: str, region: str, rows: Sequence[Row]) -> str:
    doc = {
        "env": env,
        "region": region,
        "exit_code": exit_code(rows),
        "rows": [r.as_dict() for r in rows],
    }
    return json.dumps(doc, indent=2) + "\n"
