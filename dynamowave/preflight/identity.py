"""Identity and the Powertools layer: what the env's auth_mode needs to exist before the apply, and
whether AWS publishes the layer version the functions will reference in this region."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from .account import Identity
from .model import Row, fail, ok, warn
from .tfconfig import EnvConfig

POWERTOOLS_ACCOUNT = "017000801446"  # AWS publishes the Powertools layers from this account
DEFAULT_RUNTIME = "python3.13"
DEFAULT_ARCHITECTURE = "arm64"
FETCH_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024

FetchJson = Callable[[str], Any]


def fetch_json(url: str) -> Any:
    """GET a JSON document over HTTPS (the issuer's discovery document)."""
    if not url.startswith("https://"):
        raise ValueError(f"not an https URL: {url}")
    request = urllib.request.Request(url, headers={"accept": "application/json"})  # noqa: S310 - https only
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 - https only
        return json.loads(response.read(MAX_DOCUMENT_BYTES))


def _setting(cfg: EnvConfig, name: str, default: Any = None) -> Any:
    value = cfg.variables.get(name)
    return default if value is None else value


def auth_mode(cfg: EnvConfig) -> str:
    return str(_setting(cfg, "auth_mode", "cognito"))


def cognito_domain_prefix(cfg: EnvConfig, account: str) -> str:
    cognito = _setting(cfg, "cognito", {})
    prefix = cognito.get("domain_prefix") if isinstance(cognito, dict) else None
    return str(prefix) if prefix else f"{cfg.table_name}-{account}"  # main.tf: <project>-<environment>-<account>


def identity_row(cognito_primary: Any, cfg: EnvConfig, region: str, identity: Identity, fetch: FetchJson) -> Row:
    """none: refused in prod. oidc: the issuer's discovery document answers and names a JWKS.
    cognito: the primary's hosted-UI prefix is free (or ours); the secondary finds the primary's pool."""
    title = "Identity"
    mode = auth_mode(cfg)
    tfvars = cfg.tfvars_path.name
    if mode not in ("none", "oidc", "cognito"):
        return fail("identity_provider", title, f"auth_mode {mode!r} is not none, oidc or cognito", f"fix {tfvars}")
    if mode == "none":
        if cfg.env == "prod":
            return fail("identity_provider", title, "auth_mode none leaves $connect open", f"set auth_mode in {tfvars}")
        return ok("identity_provider", title, "auth_mode none: no authorizer ($connect is open; dev only)")
    if mode == "oidc":
        return _oidc_row(cfg, fetch)
    if cfg.is_secondary(region):
        return _cognito_secondary_row(cognito_primary, cfg)
    return _cognito_primary_row(cognito_primary, cfg, identity)


def _oidc_row(cfg: EnvConfig, fetch: FetchJson) -> Row:
    title = "Identity"
    issuer = str(_setting(cfg, "oidc_issuer_url", ""))
    tfvars = cfg.tfvars_path.name
    if not issuer.startswith("https://") or not str(_setting(cfg, "oidc_audience", "")).strip():
        return fail(
            "identity_provider",
            title,
            "auth_mode oidc needs oidc_issuer_url (https://) and oidc_audience",
            f"set both in {tfvars}",
        )
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = fetch(url)
    except Exception as err:  # unreachable from here is not proof that Lambda cannot reach it
        return warn(
            "identity_provider",
            title,
            f"cannot read {url} from this machine: {type(err).__name__}: {str(err)[:120]}",
            "make sure the issuer is reachable from the internet (the authorizer fetches its keys over HTTPS)",
        )
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        found = document.get("issuer") if isinstance(document, dict) else None
        return fail(
            "identity_provider",
            title,
            f"{url} names issuer {found!r}, not {issuer!r}: every token would be refused",
            f"set oidc_issuer_url in {tfvars} to exactly the issuer's `iss`",
        )
    jwks = _setting(cfg, "oidc_jwks_url") or document.get("jwks_uri")
    if not isinstance(jwks, str) or not jwks.startswith("https://"):
        return fail("identity_provider", title, f"{url} names no https jwks_uri", f"set oidc_jwks_url in {tfvars}")
    return ok("identity_provider", title, f"oidc: {issuer} publishes its keys at {jwks}")


def _cognito_primary_row(cognito: Any, cfg: EnvConfig, identity: Identity) -> Row:
    title = "Identity"
    prefix = cognito_domain_prefix(cfg, identity.account)
    description = cognito.describe_user_pool_domain(Domain=prefix).get("DomainDescription") or {}
    owner = description.get("UserPoolId")
    if not owner:
        return ok(
            "identity_provider",
            title,
            f"cognito: hosted-UI prefix {prefix} is free in {cfg.primary_region} (not held by this account; "
            "prefixes are unique per region across accounts, so the apply can still find it taken)",
        )
    pool = cognito.describe_user_pool(UserPoolId=owner)["UserPool"]
    if pool.get("Name") == cfg.table_name:
        return ok("identity_provider", title, f"cognito: {prefix} already belongs to this stack's pool {owner}")
    return fail(
        "identity_provider",
        title,
        f"cognito: hosted-UI prefix {prefix} belongs to another user pool ({pool.get('Name')}, {owner})",
        f'set cognito = {{ domain_prefix = "..." }} in {cfg.tfvars_path.name}',
    )


def _cognito_secondary_row(cognito: Any, cfg: EnvConfig) -> Row:
    title = "Identity"
    primary = cfg.primary_region
    names: list[str] = []
    kwargs: dict[str, Any] = {"MaxResults": 60}
    while True:
        page = cognito.list_user_pools(**kwargs)
        names += [str(p.get("Name")) for p in page.get("UserPools", [])]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    found = names.count(cfg.table_name)
    fix = f"apply the primary first: make apply ENV={cfg.env} REGION={primary}"
    if found == 0:
        return fail(
            "identity_provider", title, f"cognito: no user pool {cfg.table_name} in the primary {primary} yet", fix
        )
    if found > 1:
        return fail(
            "identity_provider",
            title,
            f"cognito: {found} user pools named {cfg.table_name} in {primary}: "
            "the secondary cannot tell which to trust",
            "delete the stray pools (keep the one in the primary's state)",
        )
    return ok(
        "identity_provider", title, f"cognito: the secondary trusts the primary's pool {cfg.table_name} in {primary}"
    )


def layer_arn(cfg: EnvConfig, region: str, partition: str) -> str:
    """What functions.tf/main.tf build: the override, else AWS's public Powertools v3 layer."""
    override = _setting(cfg, "powertools_layer_arn")
    if override:
        return str(override)
    version = _setting(cfg, "powertools_layer_version", 0)
    runtime = cfg.manifest.get("runtime", DEFAULT_RUNTIME).replace(".", "")
    architecture = cfg.manifest.get("architecture", DEFAULT_ARCHITECTURE)
    name = f"AWSLambdaPowertoolsPythonV3-{runtime}-{architecture}"
    return f"arn:{partition}:lambda:{region}:{POWERTOOLS_ACCOUNT}:layer:{name}:{int(version)}"


def layer_row(lambda_client: Any, cfg: EnvConfig, region: str, identity: Identity) -> Row:
    title = "Powertools layer"
    arn = layer_arn(cfg, region, identity.partition)
    fix = (
        f"set powertools_layer_version (or powertools_layer_arn) in {cfg.tfvars_path.name} "
        f"to a version published in {region}"
    )
    if arn.endswith(":0"):
        return fail(
            "powertools_layer", title, "powertools_layer_version is not set (variables.tf default missing)", fix
        )
    try:
        layer = lambda_client.get_layer_version_by_arn(Arn=arn)
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code == "ResourceNotFoundException":
            return fail("powertools_layer", title, f"{arn} does not exist", fix)
        raise
    runtimes = layer.get("CompatibleRuntimes") or []
    runtime = cfg.manifest.get("runtime", DEFAULT_RUNTIME)
    if runtimes and runtime not in runtimes:
        return fail("powertools_layer", title, f"{arn} is for {', '.join(runtimes)}, not {runtime}", fix)
    return ok("powertools_layer", title, f"{arn} ({layer.get('Description') or 'published'})")
