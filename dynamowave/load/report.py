"""The final table of `dynamowave load` (and the bench's latency section)."""

from __future__ import annotations

from typing import Any


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in sorted(counter.items())) or "none"


def format_table(result: dict[str, Any]) -> str:
    """Rows of label / value, as a fixed-width text table."""
    cfg = result["config"]
    latency = result["latency_ms"]
    rows = [
        ("clients / rooms", f"{cfg['clients']:,} / {cfg['rooms']:,}"),
        ("rate", f"{cfg['rate']:g} msg/s total, {cfg['per_connection_rate']:.3g} msg/s per connection"),
        ("connected", f"{result['connected']:,} (in {result['connect_s']:.1f} s)"),
        ("connect failures", _counts(result["connect_failures"])),
        ("closed by server", f"{result['disconnected']:,}"),
        ("sent", f"{result['sent']:,} in {result['send_s']:.1f} s (send failures {result['send_failures']:,})"),
        ("acked", f"{result['acked']:,} (unanswered {result['unanswered']:,})"),
        ("expected deliveries", f"{result['expected']:,}"),
        ("delivered", f"{result['delivered']:,}"),
        ("lost", f"{result['lost']:,}"),
        ("duplicates", f"{result['duplicates']:,}"),
        ("errors", _counts(result["errors"])),
    ]
    for name in ("delivery", "ack"):
        stats = latency[name]
        rows.append(
            (
                f"{name} latency ms",
                f"p50 {_ms(stats['p50'])}  p95 {_ms(stats['p95'])}  p99 {_ms(stats['p99'])}  max {_ms(stats['max'])}",
            )
        )
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)
