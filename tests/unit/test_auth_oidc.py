"""The $connect authorizer: OIDC tokens (RS256/ES256) against a JWKS, every rule it enforces."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chat import auth

ISSUER = "https://idp.example.com/realm"
JWKS_URL = "https://idp.example.com/realm/keys"
CLIENT = "chat-client"
NOW = 1_700_000_000


_RSA_POOL: list[Any] = []


def _new_key(kind: str) -> Any:
    """A fresh EC key, or one of a few RSA keys (generated once: RSA generation is slow, and the
    tests only need distinct keys within one issuer)."""
    if kind != "rsa":
        return ec.generate_private_key(ec.SECP256R1())
    if len(_RSA_POOL) < 4:
        _RSA_POOL.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _RSA_POOL[-1]
    _RSA_POOL.append(_RSA_POOL.pop(0))
    return _RSA_POOL[-1]


class Issuer:
    """An OIDC issuer in memory: signing keys, a JWKS, a discovery document, fetch counting."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetched: list[str] = []
        self.down = False
        self.rotate()

    def rotate(self, kind: str = "rsa") -> str:
        kid = f"k{len(self.keys) + 1}"
        self.keys[kid] = _new_key(kind)
        self.kid = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, key in self.keys.items():
            algo = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
            entry = json.loads(algo.to_jwk(key.public_key()))
            entry.update(kid=kid, use="sig", alg="RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
            out.append(entry)
        return {"keys": out}

    def fetch(self, url: str) -> Any:
        self.fetched.append(url)
        if self.down:
            raise OSError("connection refused")
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return {"issuer": ISSUER, "jwks_uri": JWKS_URL}
        if url in (JWKS_URL, f"{ISSUER}/.well-known/jwks.json"):
            return self.jwks()
        raise OSError(f"404 {url}")

    def token(self, kid: str | None = None, alg: str | None = None, headers: dict | None = None, **claims: Any) -> str:
        kid = kid or self.kid
        key = self.keys[kid]
        body = {"iss": ISSUER, "aud": CLIENT, "sub": "user-1", "name": "Alice", "iat": NOW, "exp": NOW + 3600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        alg = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid, **(headers or {})})


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_verifier(issuer: Issuer, clock: Clock, **kw: Any) -> auth.Verifier:
    keyset = auth.KeySet(
        issuer=ISSUER,
        jwks_url=kw.pop("jwks_url", None),
        cognito=kw.get("cognito", False),
        fetch=issuer.fetch,
        clock=clock,
    )
    kw.setdefault("audience", CLIENT)
    return auth.Verifier(keyset=keyset, **kw)


@pytest.fixture
def verifier(issuer: Issuer, clock: Clock, monkeypatch) -> auth.Verifier:
    # PyJWT reads the wall clock for exp/nbf/iat: pin it to the tokens' time.
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)
    return make_verifier(issuer, clock)


class _FrozenDatetime:
    """Stands in for ``datetime`` inside PyJWT so its time checks see NOW + 10."""

    @staticmethod
    def now(tz: Any = None) -> Any:
        import datetime as real

        return real.datetime.fromtimestamp(NOW + 10, tz=real.UTC)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _forge(header: dict, claims: dict, signature: bytes = b"") -> str:
    enc = lambda d: _b64(json.dumps(d).encode())  # noqa: E731
    return f"{enc(header)}.{enc(claims)}.{_b64(signature)}"


def _claims(**extra: Any) -> dict[str, Any]:
    return {"iss": ISSUER, "aud": CLIENT, "sub": "user-1", "iat": NOW, "exp": NOW + 3600, **extra}


# ---- accepted -------------------------------------------------------------------------------------


def test_valid_rs256_token_through_the_discovery_document(verifier, issuer) -> None:
    claims = verifier.verify(issuer.token())
    assert claims["sub"] == "user-1" and claims["name"] == "Alice"
    assert issuer.fetched == [f"{ISSUER}/.well-known/openid-configuration", JWKS_URL]


def test_valid_es256_token(verifier, issuer) -> None:
    issuer.rotate("ec")
    assert verifier.verify(issuer.token())["sub"] == "user-1"


def test_the_jwks_is_cached_across_invocations(verifier, issuer) -> None:
    for _ in range(5):
        verifier.verify(issuer.token())
    assert issuer.fetched.count(JWKS_URL) == 1


def test_auth_jwks_url_skips_discovery(issuer, clock, monkeypatch) -> None:
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)
    v = make_verifier(issuer, clock, jwks_url=JWKS_URL)
    v.verify(issuer.token())
    assert issuer.fetched == [JWKS_URL]


def test_small_clock_skew_is_tolerated(verifier, issuer) -> None:
    assert verifier.verify(issuer.token(iat=NOW - 3600, exp=NOW))  # expired 10 s ago, within leeway
    assert verifier.verify(issuer.token(nbf=NOW + 20))  # valid in 10 s, within leeway


# ---- refused --------------------------------------------------------------------------------------


def _refused(verifier: auth.Verifier, token: Any, reason: str) -> None:
    with pytest.raises(auth.InvalidToken, match=reason):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iat": NOW - 7200, "exp": NOW - 60}, "expired"),
        ({"nbf": NOW + 600}, "not yet valid"),
        ({"aud": "someone-else"}, "wrong audience"),
        ({"aud": None}, "'aud'"),
        ({"iss": "https://evil.example.com"}, "wrong issuer"),
        ({"exp": None}, "'exp'"),
        ({"iat": None}, "'iat'"),
        ({"sub": None}, "'sub'"),
        ({"sub": ""}, "malformed sub"),
        ({"sub": "x" * 300}, "malformed sub"),
        ({"iat": NOW, "exp": NOW + 86400 + 1}, "lifetime over the maximum"),
    ],
)
def test_claim_rules(verifier, issuer, claims: dict, reason: str) -> None:
    _refused(verifier, issuer.token(**claims), reason)


def test_max_lifetime_is_configurable(issuer, clock, monkeypatch) -> None:
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)
    v = make_verifier(issuer, clock, max_lifetime_seconds=3600)
    assert v.verify(issuer.token(exp=NOW + 3600))
    _refused(v, issuer.token(exp=NOW + 3601), "lifetime over the maximum")


def test_alg_none_is_refused(verifier, issuer) -> None:
    _refused(verifier, _forge({"alg": "none", "kid": issuer.kid}, _claims()), "unsupported algorithm")
    _refused(verifier, _forge({"alg": "None", "kid": issuer.kid}, _claims()), "unsupported algorithm")


def test_hs256_signed_with_the_public_key_is_refused(verifier, issuer) -> None:
    """The classic confusion attack: the public key (public!) as an HMAC secret."""
    pem = (
        issuer.keys[issuer.kid]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    _refused(verifier, f"{header}.{payload}.{_b64(signature)}", "unsupported algorithm")
    assert issuer.fetched == []  # refused before any key was even looked up


def test_tampered_payload_is_refused(verifier, issuer) -> None:
    header, _, signature = issuer.token().split(".")
    payload = _b64(json.dumps(_claims(sub="admin")).encode())
    _refused(verifier, f"{header}.{payload}.{signature}", "bad signature")


def test_signature_by_another_key_with_a_known_kid_is_refused(verifier, issuer) -> None:
    other = Issuer()
    _refused(verifier, other.token(kid="k1"), "bad signature")


def test_algorithm_must_match_the_key(verifier, issuer) -> None:
    """An EC key named by an RS256 header (or the reverse) never verifies."""
    rsa_kid = issuer.kid
    ec_kid = issuer.rotate("ec")
    forged = jwt.encode(_claims(), issuer.keys[ec_kid], algorithm="ES256", headers={"kid": rsa_kid})
    _refused(verifier, forged, "algorithm does not match|bad signature")
    token = issuer.token(kid=rsa_kid)
    _, p, s = token.split(".")
    header = _b64(json.dumps({"alg": "RS256", "kid": ec_kid}).encode())
    _refused(verifier, f"{header}.{p}.{s}", "algorithm does not match")


@pytest.mark.parametrize("token", [None, "", "garbage", "a.b", "a.b.c", "!!.??.**", "x" * 9000, 42])
def test_malformed_tokens(verifier, token) -> None:
    _refused(verifier, token, "malformed|unsupported")


def test_token_without_kid_is_refused(verifier, issuer) -> None:
    token = jwt.encode(_claims(), issuer.keys[issuer.kid], algorithm="RS256")
    _refused(verifier, token, "kid")


def test_missing_audience_setting_refuses_everything(issuer, clock) -> None:
    v = make_verifier(issuer, clock, audience="")
    _refused(v, issuer.token(), "AUTH_AUDIENCE")


# ---- key rotation and the refresh limit -----------------------------------------------------------


def test_a_rotated_key_is_accepted_after_a_refresh(verifier, issuer, clock) -> None:
    verifier.verify(issuer.token())
    issuer.rotate()
    new_token = issuer.token()
    clock.t += 61
    assert verifier.verify(new_token)["sub"] == "user-1"
    assert issuer.fetched.count(JWKS_URL) == 2


def test_unknown_kids_refresh_at_most_once_a_minute(verifier, issuer, clock) -> None:
    verifier.verify(issuer.token())
    key = issuer.keys[issuer.kid]

    def random_kid() -> str:
        return jwt.encode(_claims(), key, algorithm="RS256", headers={"kid": uuid.uuid4().hex})

    for _ in range(200):  # a flood of tokens naming kids the issuer never published
        clock.t += 0.25  # 50 s in all
        _refused(verifier, random_kid(), "unknown signing key")
    assert issuer.fetched.count(JWKS_URL) == 1
    clock.t += 11  # past the minute: one more fetch, then quiet again
    for _ in range(20):
        _refused(verifier, random_kid(), "unknown signing key")
    assert issuer.fetched.count(JWKS_URL) == 2


def test_rotation_within_the_minute_waits_for_the_next_refresh(verifier, issuer, clock) -> None:
    verifier.verify(issuer.token())
    issuer.rotate()
    _refused(verifier, issuer.token(), "unknown signing key")
    clock.t += 60
    assert verifier.verify(issuer.token())


def test_issuer_down_refuses_and_retries_later(verifier, issuer, clock) -> None:
    issuer.down = True
    _refused(verifier, issuer.token(), "signing keys unavailable")
    _refused(verifier, issuer.token(), "unknown signing key")  # not fetched again at once
    issuer.down = False
    clock.t += auth.EMPTY_RETRY_SECONDS
    assert verifier.verify(issuer.token())


def test_discovery_naming_another_issuer_is_refused(issuer, clock) -> None:
    bad = Issuer()
    bad.fetch = lambda url: {"issuer": "https://evil.example.com", "jwks_uri": JWKS_URL}  # type: ignore[method-assign]
    keyset = auth.KeySet(issuer=ISSUER, fetch=bad.fetch, clock=clock)
    v = auth.Verifier(keyset=keyset, audience=CLIENT)
    _refused(v, issuer.token(), "signing keys unavailable")


@pytest.mark.parametrize(
    "url",
    ["http://idp.example.com/jwks", "file:///etc/passwd", "ftp://x/jwks", "https:///nohost"],
)
def test_keys_only_over_https_or_loopback(url: str) -> None:
    with pytest.raises(ValueError):
        auth._check_url(url)


@pytest.mark.parametrize(
    "url", ["https://idp.example.com/jwks", "http://127.0.0.1:8000/idp/jwks", "http://localhost/x"]
)
def test_https_and_loopback_urls_are_allowed(url: str) -> None:
    assert auth._check_url(url) == url


def test_encryption_and_hmac_keys_in_the_jwks_are_ignored(verifier, issuer) -> None:
    real = issuer.jwks

    def with_extras() -> dict:
        doc = real()
        doc["keys"].append({"kty": "oct", "kid": "hmac", "k": _b64(b"secret"), "alg": "HS256"})
        enc = dict(doc["keys"][0], kid="enc", use="enc")
        doc["keys"].append(enc)
        return doc

    issuer.jwks = with_extras  # type: ignore[method-assign]
    verifier.verify(issuer.token())
    assert set(verifier.keyset.keys) == {issuer.kid}


# ---- Cognito --------------------------------------------------------------------------------------


def test_cognito_id_tokens(issuer, clock, monkeypatch) -> None:
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)
    v = make_verifier(issuer, clock, cognito=True, token_use="id")
    assert v.verify(issuer.token(token_use="id"))
    assert issuer.fetched == [f"{ISSUER}/.well-known/jwks.json"]
    _refused(v, issuer.token(token_use="access"), "token_use")
    _refused(v, issuer.token(), "token_use")


def test_cognito_access_tokens_check_client_id(issuer, clock, monkeypatch) -> None:
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)
    v = make_verifier(issuer, clock, cognito=True, token_use="access")
    assert v.verify(issuer.token(token_use="access", aud=None, client_id=CLIENT))
    _refused(v, issuer.token(token_use="access", aud=None, client_id="other"), "client_id")
    _refused(v, issuer.token(token_use="id", aud=None, client_id=CLIENT), "token_use")


# ---- Origin ---------------------------------------------------------------------------------------


def test_origin_allow_list() -> None:
    allowed = ("https://chat.example.com", "http://localhost:8000")
    auth.check_origin("https://chat.example.com", allowed)
    auth.check_origin("anything", ())  # empty list: no restriction
    for origin, reason in (("https://evil.example.com", "not allowed"), (None, "no Origin"), ("null", "not allowed")):
        with pytest.raises(auth.InvalidToken, match=reason):
            auth.check_origin(origin, allowed)


def test_header_lookup_ignores_case() -> None:
    from chat.events import header_of

    assert header_of({"headers": {"origin": "x"}}, "Origin") == "x"
    assert header_of({"headers": {"ORIGIN": "y"}}, "Origin") == "y"
    assert header_of({"headers": None}, "Origin") is None


# ---- the handler ----------------------------------------------------------------------------------


@pytest.fixture
def handler_env(issuer, monkeypatch):
    """The authorizer handler with settings from the environment and the fake issuer's network."""
    from chat import config

    monkeypatch.setenv("AUTH_MODE", "oidc")
    monkeypatch.setenv("AUTH_ISSUER", ISSUER)
    monkeypatch.setenv("AUTH_AUDIENCE", CLIENT)
    monkeypatch.setenv("AUTH_NAME_CLAIM", "preferred_username")
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://chat.example.com, http://localhost:8000")
    monkeypatch.setattr(auth, "_http_get_json", issuer.fetch)
    config.settings.cache_clear()
    counted: list[str] = []
    from chat import metrics

    monkeypatch.setattr(metrics, "count", lambda name, value=1: counted.append(name))
    yield counted
    config.settings.cache_clear()


def _event(token: str | None, origin: str | None = "https://chat.example.com") -> dict:
    return {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:eu-west-1:1:api/dev/$connect",
        "headers": {"Origin": origin} if origin else {},
        "queryStringParameters": {"token": token} if token is not None else None,
        "requestContext": {"requestId": "r1", "routeKey": "$connect"},
    }


def test_handler_allows_and_passes_identity(handler_env, issuer, capsys) -> None:
    from chat.handlers import authorizer

    token = issuer.token(iat=int(time.time()), exp=int(time.time()) + 600, preferred_username=" Bob\u202e ")
    result = authorizer.handler(_event(token), None)
    assert result["principalId"] == "user-1"
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert result["context"] == {"userId": "user-1", "name": "Bob"}  # sanitized
    assert handler_env == []


def test_handler_name_falls_back_to_sub(handler_env, issuer) -> None:
    from chat.handlers import authorizer

    token = issuer.token(iat=int(time.time()), exp=int(time.time()) + 600, sub="abc-123")
    assert authorizer.handler(_event(token), None)["context"] == {"userId": "abc-123", "name": "abc-123"}


@pytest.mark.parametrize("case", ["no token", "expired", "foreign origin", "no origin"])
def test_handler_refuses_with_401_counts_and_never_logs_the_token(handler_env, issuer, capsys, case: str) -> None:
    from chat.handlers import authorizer

    now = int(time.time())
    good = issuer.token(iat=now, exp=now + 600)
    event = {
        "no token": _event(None),
        "expired": _event(issuer.token(iat=now - 7200, exp=now - 3600)),
        "foreign origin": _event(good, origin="https://evil.example.com"),
        "no origin": _event(good, origin=None),
    }[case]
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(event, None)
    assert handler_env == ["AuthRejections"]
    out = capsys.readouterr().out
    assert "auth_denied" in out and good.split(".")[1] not in out and good.split(".")[2] not in out


def test_handler_refuses_when_the_issuer_is_unreachable(handler_env, issuer) -> None:
    from chat.handlers import authorizer

    issuer.down = True
    now = int(time.time())
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(_event(issuer.token(iat=now, exp=now + 600)), None)


def test_handler_answers_the_warmer_without_fetching(handler_env, issuer) -> None:
    from chat.handlers import authorizer

    assert authorizer.handler({"warmer": True, "delayMs": 0}, None) == {"warmed": True}
    assert issuer.fetched == []


def test_the_authorizer_makes_no_aws_calls() -> None:
    from pathlib import Path

    import chat.handlers.authorizer as module

    for source in (Path(auth.__file__), Path(module.__file__)):
        text = source.read_text()
        assert "clients" not in text and "boto" not in text and "ssm" not in text.lower()


def test_http_fetch_has_a_short_timeout_and_a_size_cap(monkeypatch) -> None:
    seen: dict[str, Any] = {}

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(request, timeout):
        seen["timeout"] = timeout
        return Response(b"x" * (auth.MAX_DOCUMENT_BYTES + 10))

    monkeypatch.setattr(auth.urllib.request, "urlopen", urlopen)
    with pytest.raises(ValueError, match="more than"):
        auth._http_get_json("https://idp.example.com/jwks")
    assert seen["timeout"] <= 5
