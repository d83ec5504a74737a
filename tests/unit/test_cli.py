"""The `dynamowave` command as a newcomer meets it: help, version, and bad arguments refused by the
parser with a message that names the flag (never a traceback, never a half-started runtime)."""

from __future__ import annotations

import pytest

from dynamowave import __version__, cli


def test_no_command_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "usage: dynamowave" in out and "dev" in out and "token" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dynamowave {__version__}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "99999"], "argument --port: '99999' is not a TCP port"),
        (["--port", "http"], "argument --port: 'http' is not an integer"),
        (["--host", "256.1.1.1"], "argument --host: '256.1.1.1' is not a valid IP address"),
        (["--host", "bad_host!"], "argument --host: 'bad_host!' is not an IP address or host name"),
        (["--idle-timeout", "-5"], "argument --idle-timeout: '-5' must be a number of seconds > 0"),
        (["--idle-timeout", "nan"], "argument --idle-timeout: 'nan' must be a number of seconds > 0"),
        (["--max-connection-seconds", "0"], "argument --max-connection-seconds"),
        (["--stage", ""], "argument --stage: '' is not a stage name"),
        (["--stage", "a/b"], "argument --stage: 'a/b' is not a stage name"),
        (["--post-fault-rate", "1.5"], "argument --post-fault-rate: '1.5' must be between 0 and 1"),
        (["--post-latency-ms", "-1"], "argument --post-latency-ms: '-1' must be >= 0"),
        (["--allowed-origin", "chat.example.com"], "argument --allowed-origin: 'chat.example.com' is not an origin"),
        (["--allowed-origin", "https://x.example/path"], "argument --allowed-origin"),
        (["--auth", "hs256"], "argument --auth: invalid choice"),
    ],
)
def test_dev_rejects_bad_arguments_at_parse_time(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["dev", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "chat-dev.example.com"])
def test_dev_accepts_addresses_and_host_names(host: str) -> None:
    args = cli.build_parser(["dev"]).parse_args(["dev", "--host", host])
    assert args.host == host


def test_every_dev_option_shows_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["dev", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: 127.0.0.1)", "(default: 8000)", "(default: dev)", "(default: 600)", "(default: 0.0)"):
        assert default in help_text


def test_dev_refuses_a_second_region_past_the_last_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["dev", "--regions", "2", "--port", "65535"]) == 2
    assert "pick a lower --port" in capsys.readouterr().err


def test_dev_auth_environment_points_the_authorizer_at_the_local_issuer() -> None:
    from dynamowave import dev

    args = cli.build_parser(["dev"]).parse_args(["dev", "--auth", "dev", "--port", "9000", "--regions", "2"])
    origins = dev.default_origins(args)
    assert origins == (
        "http://127.0.0.1:9000",
        "http://localhost:9000",
        "http://127.0.0.1:9001",
        "http://localhost:9001",
    )
    env = dev.auth_environment(args, dev.issuer_url(args), origins)
    assert env["AUTH_MODE"] == "oidc" and env["AUTH_ISSUER"] == "http://127.0.0.1:9000/idp"
    assert env["AUTH_AUDIENCE"] == "dynamowave-local" and env["ALLOWED_ORIGINS"].split(",") == list(origins)
    off = cli.build_parser(["dev"]).parse_args(["dev", "--allowed-origin", "https://chat.example.com/"])
    assert off.allowed_origins == ["https://chat.example.com"]
    assert dev.auth_environment(off, None, ("https://chat.example.com",))["AUTH_MODE"] == "none"


def test_dev_auth_needs_a_loopback_reachable_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["dev", "--auth", "dev", "--host", "chat-dev.example.com"]) == 2
    assert "--auth dev needs --host on loopback" in capsys.readouterr().err


def test_token_explains_where_tokens_come_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["token", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--auth dev" in help_text and "/idp/token" in help_text and "never written to disk" in help_text


@pytest.mark.parametrize(("argv", "message"), [(["--name", ""], "--name"), (["--name", "a", "--ttl", "5"], "--ttl")])
def test_token_rejects_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["token", *argv]) == 2
    assert message in capsys.readouterr().err
