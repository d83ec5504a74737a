"""What the operator sees: step lines, the progress line while waiting, the closing table."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from dynamowave.drill.model import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RESTORE_FAILED,
    PROGRESS_LINE_EVERY,
    Clock,
)
from dynamowave.drill.report import Report

SUMMARIES = {
    EXIT_OK: "PASSED",
    EXIT_FAILED: "FAILED (health check restored)",
    EXIT_INTERRUPTED: "INTERRUPTED (health check restored)",
    EXIT_RESTORE_FAILED: "FAILED AND NOT RESTORED",
}


def say(out: TextIO, text: str) -> None:
    # Flushed at once: the drill runs for minutes and is often piped into a CI log.
    out.write(text + "\n")
    out.flush()


class Progress:
    """One rewritten line on a terminal; a line on each change or every 15 s otherwise (CI logs)."""

    def __init__(self, out: TextIO, clock: Clock, label: str, timeout: float) -> None:
        self.out, self.clock, self.label, self.timeout = out, clock, label, timeout
        self.start = clock.monotonic()
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.last_text: str | None = None
        self.last_line_at = -PROGRESS_LINE_EVERY

    def elapsed(self) -> float:
        return self.clock.monotonic() - self.start

    def update(self, text: str) -> None:
        elapsed = self.elapsed()
        line = f"  [{self.label}] {elapsed:5.0f}s / {self.timeout:.0f}s  {text}"
        if self.tty:
            self.out.write("\r\x1b[2K" + line)
            self.out.flush()
        elif text != self.last_text or elapsed - self.last_line_at >= PROGRESS_LINE_EVERY:
            self.out.write(line + "\n")
            self.out.flush()
            self.last_line_at = elapsed
        self.last_text = text

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def format_table(report: Report) -> str:
    rows = [("step", "status", "duration", "detail")]
    for s in report.steps:
        rows.append((s.name, s.status, "-" if s.duration_s is None else f"{s.duration_s:.1f}s", s.detail))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(lines)


def print_summary(out: TextIO, report: Report, code: int, path: Path) -> None:
    """The closing table and verdict, after the report is written."""
    out.write("\n" + format_table(report) + "\n\n")
    summary = SUMMARIES[code]
    # restored is None when the drill stopped before touching the health check.
    if report.restored is None and code != EXIT_OK:
        summary = summary.replace("health check restored", "nothing was changed")
    out.write(f"drill {summary}; report: {path}\n")
    if report.error:
        out.write(f"error: {report.error}\n")
    out.flush()
