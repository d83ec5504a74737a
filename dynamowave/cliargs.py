"""Argument types shared by the `dynamowave` subcommands: each rejects a bad value at parse time with
a message naming the flag, instead of failing later with a traceback."""

from __future__ import annotations

import argparse
import ipaddress
import math
import re

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def port(value: str) -> int:
    number = integer(value)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port (1..65535)")
    return number


def host(value: str) -> str:
    """An IP address, or a host name whose labels are letters, digits and inner hyphens."""
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if not value or len(value) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise argparse.ArgumentTypeError(f"{value!r} is not an IP address or host name")
    if labels[-1].isdigit():  # 256.1.1.1 is a bad address, not a host name
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid IP address")
    return value


def stage(value: str) -> str:
    if not _STAGE.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a stage name (1..128 of A-Z a-z 0-9 _ -)")
    return value


def integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None


def positive_int(value: str) -> int:
    number = integer(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be >= 1")
    return number


def non_negative_int(value: str) -> int:
    number = integer(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be >= 0")
    return number


def _number(value: str, what: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not {what}") from None


def positive_seconds(value: str) -> float:
    seconds = _number(value, "a number of seconds")
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be a number of seconds > 0")
    return seconds


def rate(value: str) -> float:
    share = _number(value, "a number")
    if not 0.0 <= share <= 1.0:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"{value!r} must be between 0 and 1")
    return share
