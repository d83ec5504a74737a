"""OIDC tokens for the $connect authorizer: RS256/ES256 JWTs checked against the issuer's JWKS.

Works with any OIDC issuer (Cognito, Auth0, Okta, Entra ID, Keycloak, the local runtime's own).
Only asymmetric algorithms are accepted: never ``none`` and never HMAC, so a token "signed" with
the issuer's public key as an HMAC secret is refused before any signature is computed. The key
must come from the issuer's JWKS, be a signing key, and belong to the algorithm the token names.

The JWKS is fetched with the standard library (no AWS call, no SDK) and kept for the life of the
container. An unknown ``kid`` (the issuer rotated its keys) triggers one refresh, at most once per
``AUTH_JWKS_REFRESH_SECONDS`` (60): a flood of made-up kids cannot turn the authorizer into a
client hammering the issuer.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKError,
)

from chat.config import Settings, settings

ALGORITHMS = ("RS256", "ES256")
LEEWAY_SECONDS = 30
MAX_TOKEN_CHARS = 8192
MAX_SUBJECT_CHARS = 255
ACCESS_TOKEN = "access"  # noqa: S105 - Cognito's token_use value, not a secret
FETCH_TIMEOUT_S = 3.0
MAX_DOCUMENT_BYTES = 512 * 1024
DEFAULT_REFRESH_SECONDS = 60
# With no key at all (the issuer was unreachable on a cold start) retry sooner than the refresh
# interval: every token is refused until a fetch succeeds.
EMPTY_RETRY_SECONDS = 5


class InvalidToken(Exception):
    """The token (or the request) is refused; the message is the reason, safe to log."""


def _http_get_json(url: str) -> Any:
    """GET a JSON document with a short timeout (an issuer that hangs must not hold $connect)."""
    headers = {"Accept": "application/json", "User-Agent": "dynamowave-authorizer"}
    request = urllib.request.Request(_check_url(url), headers=headers)  # noqa: S310 - https/loopback only
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 - https/loopback only
        data = response.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    return json.loads(data)


def _check_url(url: str) -> str:
    """Keys only over HTTPS; plain HTTP only to a loopback address (the local runtime's issuer)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return url
    raise ValueError(f"refusing to fetch keys from {url!r}: https (or a loopback http address) only")


def _refresh_seconds() -> int:
    raw = os.environ.get("AUTH_JWKS_REFRESH_SECONDS", "")
    try:
        value = int(raw) if raw else DEFAULT_REFRESH_SECONDS
    except ValueError:
        raise RuntimeError(f"AUTH_JWKS_REFRESH_SECONDS must be an integer, got {raw!r}") from None
    if not 1 <= value <= 3600:
        raise RuntimeError(f"AUTH_JWKS_REFRESH_SECONDS must be within 1..3600, got {value}")
    return value


@dataclass
class KeySet:
    """The issuer's signing keys by ``kid``, fetched lazily and refreshed at a bounded rate."""

    issuer: str
    jwks_url: str | None = None  # None: read it from the issuer's discovery document
    cognito: bool = False  # Cognito publishes {issuer}/.well-known/jwks.json (and a discovery document)
    refresh_seconds: int = DEFAULT_REFRESH_SECONDS
    fetch: Callable[[str], Any] | None = None  # default: an HTTPS GET (tests pass a fake issuer)
    clock: Callable[[], float] = time.monotonic
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetches: int = 0
    _last_attempt: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, url: str) -> Any:
        return (self.fetch or _http_get_json)(url)

    def _resolve_jwks_url(self) -> str:
        if self.jwks_url:
            return _check_url(self.jwks_url)
        base = self.issuer.rstrip("/")
        if self.cognito:
            self.jwks_url = _check_url(f"{base}/.well-known/jwks.json")
            return self.jwks_url
        discovery = self._get(_check_url(f"{base}/.well-known/openid-configuration"))
        if not isinstance(discovery, dict) or not isinstance(discovery.get("jwks_uri"), str):
            raise ValueError("the discovery document has no jwks_uri")
        if discovery.get("issuer") != self.issuer:  # OpenID Connect Discovery, section 4.3
            raise ValueError("the discovery document names another issuer")
        self.jwks_url = _check_url(discovery["jwks_uri"])
        return self.jwks_url

    def _load(self) -> None:
        document = self._get(self._resolve_jwks_url())
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError("the JWKS has no keys list")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
                continue
            if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") not in ALGORITHMS:
                continue  # encryption keys and HMAC/other algorithms are never used to verify
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry)
            except (PyJWKError, InvalidTokenError, ValueError, TypeError):
                continue  # a key this verifier cannot use (unknown kty or curve): skip it
        self.keys = keys

    def key(self, kid: str) -> jwt.PyJWK:
        """The key named ``kid``; an unknown kid refreshes the set if the last fetch is old enough."""
        with self._lock:  # the local runtime authorizes concurrently; Lambda never does
            found = self.keys.get(kid)
            if found is not None:
                return found
            now = self.clock()
            wait = self.refresh_seconds if self.keys else EMPTY_RETRY_SECONDS
            if self._last_attempt is not None and now - self._last_attempt < wait:
                raise InvalidToken("unknown signing key (kid)")
            self._last_attempt = now
            self.fetches += 1
            try:
                self._load()
            except Exception as err:  # network, HTTP, JSON: the token cannot be checked, refuse it
                raise InvalidToken(f"signing keys unavailable: {type(err).__name__}") from None
            found = self.keys.get(kid)
            if found is None:
                raise InvalidToken("unknown signing key (kid)")
            return found


@dataclass
class Verifier:
    """Every rule a token must pass; ``verify`` returns its claims or raises ``InvalidToken``."""

    keyset: KeySet
    audience: str
    cognito: bool = False
    token_use: str | None = None  # Cognito: "id" (aud = client id) or "access" (client_id claim)
    max_lifetime_seconds: int = 86400

    def verify(self, token: Any) -> dict[str, Any]:
        if not self.audience:
            raise InvalidToken("AUTH_AUDIENCE is not set: refusing every token")
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise InvalidToken("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except DecodeError:
            raise InvalidToken("malformed token") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise InvalidToken("unsupported algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token names no signing key (kid)")
        key = self.keyset.key(kid)
        if key.algorithm_name != algorithm:  # an EC key never verifies an RS256 token, and so on
            raise InvalidToken("algorithm does not match the signing key")
        access = self.cognito and self.token_use == ACCESS_TOKEN
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=None if access else self.audience,
                issuer=self.keyset.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": not access},
            )
        except ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except ImmatureSignatureError:
            raise InvalidToken("token not yet valid") from None
        except InvalidAudienceError:
            raise InvalidToken("wrong audience") from None
        except InvalidIssuerError:
            raise InvalidToken("wrong issuer") from None
        except MissingRequiredClaimError as err:
            raise InvalidToken(f"token has no {err.claim!r} claim") from None
        except InvalidIssuedAtError:
            raise InvalidToken("malformed iat claim") from None
        except InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except InvalidTokenError as err:
            raise InvalidToken(f"invalid token: {type(err).__name__}") from None
        return self._check_claims(claims)

    def _check_claims(self, claims: dict[str, Any]) -> dict[str, Any]:
        if self.cognito and self.token_use and claims.get("token_use") != self.token_use:
            raise InvalidToken("wrong token_use")
        if self.cognito and self.token_use == ACCESS_TOKEN and claims.get("client_id") != self.audience:
            raise InvalidToken("wrong client_id")
        iat, exp = claims["iat"], claims["exp"]
        if not isinstance(iat, int | float) or not isinstance(exp, int | float):
            raise InvalidToken("malformed exp or iat claim")
        if exp - iat > self.max_lifetime_seconds:
            raise InvalidToken("token lifetime over the maximum")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_CHARS:
            raise InvalidToken("malformed sub claim")
        return claims


def check_origin(origin: str | None, allowed: tuple[str, ...]) -> None:
    """Browsers send the page's Origin with the upgrade; a page on a foreign site is refused."""
    if not allowed:
        return
    if origin is None:
        raise InvalidToken("no Origin header")
    if origin.rstrip("/") not in allowed:
        raise InvalidToken("Origin not allowed")


def build_verifier(config: Settings) -> Verifier:
    cognito = config.auth_mode == "cognito"
    keyset = KeySet(
        issuer=config.auth_issuer,
        jwks_url=config.auth_jwks_url,
        cognito=cognito,
        refresh_seconds=_refresh_seconds(),
    )
    return Verifier(
        keyset=keyset,
        audience=config.auth_audience,
        cognito=cognito,
        token_use=config.auth_token_use or ("id" if cognito else None),
        max_lifetime_seconds=config.max_token_lifetime_seconds,
    )


_cached: tuple[Settings, Verifier] | None = None
_cached_lock = threading.Lock()


def verifier() -> Verifier:
    """One verifier (and JWKS cache) per container; rebuilt only if the settings were reloaded."""
    global _cached
    config = settings()
    with _cached_lock:
        if _cached is None or _cached[0] is not config:
            _cached = (config, build_verifier(config))
        return _cached[1]


def policy(principal: str, effect: str, resource: str, context: dict[str, str] | None = None) -> dict[str, Any]:
    """The authorizer's answer: an IAM policy for ``$connect``, and the context $connect receives."""
    result: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context:
        result["context"] = context
    return result
