"""`dynamowave load`: argument checking, token commands and the counting rules (no network)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dynamowave import cli
from dynamowave.load import config_from_args, usage_error
from dynamowave.load.engine import (
    LoadConfig,
    LoadError,
    LoadRun,
    Sent,
    Tokens,
    check_url,
    client_url,
    percentile,
    run_token_command,
)


def parse(*argv: str):
    return cli.build_parser(["load", *argv]).parse_args(["load", *argv])


def test_defaults_and_options_reach_the_config() -> None:
    args = parse(
        "ws://127.0.0.1:8000/dev",
        "-n",
        "50",
        "-r",
        "5",
        "--rate",
        "20",
        "--duration",
        "3",
        "--origin",
        "https://chat.example.com",
    )
    config = config_from_args(args)
    assert (config.clients, config.rooms, config.rate, config.duration) == (50, 5, 20.0, 3.0)
    assert config.origin == "https://chat.example.com"
    assert config.per_connection_rate() == pytest.approx(0.4)
    assert usage_error(args) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["http://127.0.0.1:8000/dev"], "not a WebSocket URL"),
        (["ws://"], "has no host"),
        (["ws://127.0.0.1:99999/dev"], "invalid port"),
        (["ws://h/dev", "-n", "0"], "must be >= 1"),
        (["ws://h/dev", "--rate", "0"], "greater than 0"),
        (["ws://h/dev", "--rate", "fast"], "not a number"),
        (["ws://h/dev", "--ramp-up", "-1"], "0 or more"),
        (["ws://h/dev", "--token", "t", "--token-command", "echo t"], "not allowed with"),
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_checks_between_flags(tmp_path: Path) -> None:
    assert "more than --clients" in (usage_error(parse("ws://h/dev", "-n", "2", "-r", "3")) or "")
    assert "--text-size" in (usage_error(parse("ws://h/dev", "--text-size", "5000")) or "")
    missing = tmp_path / "nowhere" / "out.json"
    assert "does not exist" in (usage_error(parse("ws://h/dev", "--json", str(missing))) or "")


def test_main_reports_usage_errors_without_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["load", "ws://127.0.0.1:9/dev", "-n", "1", "-r", "2"]) == 2
    assert "more than --clients" in capsys.readouterr().err


def test_check_url_accepts_ws_and_wss() -> None:
    assert check_url("wss://chat.example.com/prod") == "wss://chat.example.com/prod"
    with pytest.raises(LoadError, match="not a WebSocket URL"):
        check_url("https://chat.example.com/prod")


def test_client_url_merges_query_parameters() -> None:
    url = client_url("ws://h:1/dev?name=x&keep=1", room="r1", name="load-3", token="")
    assert url == "ws://h:1/dev?name=load-3&keep=1&room=r1"


def test_token_command_runs_once_or_per_client() -> None:
    once = f"{sys.executable} -c \"print('banner'); print('tok-shared')\""
    tokens = Tokens(LoadConfig(url="ws://h/dev", token_command=once))
    assert tokens.for_client(0) == tokens.for_client(7) == "tok-shared"
    per_client = f"{sys.executable} -c \"print('tok-{{n}}')\""
    assert Tokens(LoadConfig(url="ws://h/dev", token_command=per_client)).for_client(7) == "tok-7"


def test_failing_token_command_says_why() -> None:
    with pytest.raises(LoadError, match="exited with 3"):
        run_token_command(f'{sys.executable} -c "import sys; sys.exit(3)"', 0)
    with pytest.raises(LoadError, match="could not run"):
        run_token_command("/nonexistent/token-tool", 0)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0


def _frame(kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, **fields})


def test_counting_rules() -> None:
    run = LoadRun(LoadConfig(url="ws://h/dev", clients=3))
    rid = run.state.run_id
    # message 1 (acked) expects clients 0, 1, 2; message 2 was rate limited (expects nothing).
    run.state.messages[1] = Sent(0.0, 0, "r", frozenset({0, 1, 2}))
    run.state.messages[2] = Sent(0.0, 1, "r", frozenset({0, 1, 2}))
    run._on_frame(0, _frame("ack", clientMessageId=f"{rid}-1", messageId="m1"))
    run._on_frame(0, _frame("ack", clientMessageId=f"{rid}-1", messageId="m1"))  # a resent ack counts once
    run._on_frame(1, _frame("error", code="rate_limited", clientMessageId=f"{rid}-2", retryAfterMs=100))
    run._on_frame(0, _frame("message", text=f"lg {rid} 1 xx"))
    run._on_frame(1, _frame("message", text=f"lg {rid} 1 xx"))
    run._on_frame(1, _frame("message", text=f"lg {rid} 1 xx"))  # duplicate
    run._on_frame(2, _frame("message", text="lg otherrun 1 xx"))  # another run's message: ignored
    run._on_frame(2, _frame("message", text="hello"))
    run._on_frame(2, "not json")
    state = run.state
    assert (state.acked, state.delivered, state.duplicates) == (1, 2, 1)
    assert state.expected() == 3 and state.lost() == 1  # client 2 never got message 1
    assert state.errors == {"rate_limited": 1, "unparsable_frame": 1}
    assert not state.settled()
    run._on_frame(2, _frame("message", text=f"lg {rid} 1 xx"))
    assert state.lost() == 0 and state.settled()
    result = run.result(1.0, 2.0)
    assert result["lost"] == 0 and result["errors"] == {"rate_limited": 1, "unparsable_frame": 1}
    assert "token" not in result["config"] and "token_command" not in result["config"]
