"""Rows about what the apply builds on: the hosted zone, the primary's table, KMS grants."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .account import Identity
from .dns import Resolver
from .model import Row, fail, ok, warn
from .tfconfig import EnvConfig

# DynamoDB replication creates grants on the table keys on the caller's behalf.
KMS_ACTIONS = ("kms:CreateGrant", "kms:DescribeKey")


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def hosted_zone_row(route53: Any, cfg: EnvConfig, resolver: Resolver) -> Row:
    title = "Hosted zone"
    if cfg.domain_error:
        return fail("hosted_zone", title, cfg.domain_error, f"edit {cfg.tfvars_path.name}")
    if cfg.domain is None:
        return ok("hosted_zone", title, "no custom domain: clients use each region's execute-api URL")
    domain, zone_id = cfg.domain.name, cfg.domain.hosted_zone_id
    try:
        answer = route53.get_hosted_zone(Id=zone_id)
    except ClientError as err:
        if _code(err) in ("NoSuchHostedZone", "InvalidInput"):
            return fail(
                "hosted_zone",
                title,
                f"hosted zone {zone_id} does not exist in this account ({_code(err)})",
                f"create a public hosted zone for {domain} or correct the hosted zone id in {cfg.tfvars_path.name}",
            )
        raise
    zone = answer["HostedZone"]
    zone_name = _norm(zone["Name"])
    if zone.get("Config", {}).get("PrivateZone"):
        return fail(
            "hosted_zone",
            title,
            f"{zone_id} ({zone_name}) is a private zone",
            "use a public hosted zone: ACM validation and the failover records must resolve publicly",
        )
    if domain != zone_name and not domain.endswith("." + zone_name):
        return fail(
            "hosted_zone",
            title,
            f"{domain} is not inside zone {zone_name} ({zone_id})",
            f"use the hosted zone of {domain} (or of a parent name) in {cfg.tfvars_path.name}",
        )
    zone_ns = frozenset(_norm(n) for n in answer.get("DelegationSet", {}).get("NameServers", []))
    where = f"{zone_name} ({zone_id}) holds {domain}"
    try:
        public_ns = frozenset(_norm(n) for n in resolver(zone_name))
    except Exception as err:  # any resolver failure only means "could not verify"
        return warn(
            "hosted_zone",
            title,
            f"{where}; could not look up its public NS records: {err}",
            f"check by hand: dig +short NS {zone_name} should list {', '.join(sorted(zone_ns))}",
        )
    if zone_ns and public_ns == zone_ns:
        return ok("hosted_zone", title, f"{where}; delegated (public NS match the zone's {len(zone_ns)} name servers)")
    fix = f"at the registrar (or parent zone) set the NS records of {zone_name} to {', '.join(sorted(zone_ns))}"
    if not public_ns or not (public_ns & zone_ns):
        seen = ", ".join(sorted(public_ns)) or "no NS records"
        return fail("hosted_zone", title, f"{where}; NOT delegated: public DNS answers {seen}", fix)
    return warn(
        "hosted_zone",
        title,
        f"{where}; partly delegated: public NS {', '.join(sorted(public_ns))} differ from the zone's",
        fix,
    )


def primary_row(ddb_primary: Any, cfg: EnvConfig, region: str) -> Row:
    title = "Apply order"
    primary, table = cfg.primary_region, cfg.table_name
    if not cfg.is_secondary(region):
        also = f" and its replica in {cfg.secondary_region}" if cfg.two_regions else ""
        return ok("primary", title, f"{region} is the primary: its apply creates table {table}{also}")
    fix = f"apply the primary first: make apply ENV={cfg.env} REGION={primary}"
    try:
        description = ddb_primary.describe_table(TableName=table)["Table"]
    except ClientError as err:
        if _code(err) == "ResourceNotFoundException":
            return fail("primary", title, f"table {table} does not exist in the primary {primary}", fix)
        raise
    replicas: dict[str, dict[str, Any]] = {str(r.get("RegionName")): r for r in description.get("Replicas", [])}
    replica = replicas.get(region)
    if replica is None:
        return fail("primary", title, f"table {table} in {primary} has no replica in {region}", fix)
    status = replica.get("ReplicaStatus", "ACTIVE")
    if status != "ACTIVE":
        return warn(
            "primary",
            title,
            f"the replica of {table} in {region} is {status}",
            "wait until it is ACTIVE (aws dynamodb describe-table), then plan the secondary",
        )
    return ok("primary", title, f"table {table} in {primary} has an ACTIVE replica in {region}")


def principal_arn(iam: Any, identity: Identity) -> tuple[str | None, str]:
    """The IAM ARN SimulatePrincipalPolicy accepts for the caller, or None and why not."""
    kind = identity.arn.split(":", 5)[-1]
    if kind == "root":
        return None, "the caller is the account root user, which IAM cannot simulate (and should not deploy)"
    if kind.startswith("user/"):
        return identity.arn.replace(":sts::", ":iam::", 1), ""
    if kind.startswith("assumed-role/"):
        role = kind.split("/")[1]
        try:
            return str(iam.get_role(RoleName=role)["Role"]["Arn"]), ""
        except ClientError as err:
            # The session ARN drops the role's path, so the role ARN must come from iam:GetRole.
            return None, (
                f"the caller is assumed role {role}; its role ARN (with path) needs iam:GetRole, which "
                f"failed ({_code(err)}), so its policies cannot be simulated"
            )
    return None, f"{identity.arn} is not an IAM user or role session, which IAM cannot simulate"


def kms_grant_row(iam: Any, identity: Identity, cfg: EnvConfig) -> Row:
    title = "KMS CreateGrant"
    if not cfg.two_regions:
        return ok("kms_grant", title, "one region: no replica, no grants needed")
    regions = [r for r in (cfg.primary_region, cfg.secondary_region) if r]
    manual = (
        f"make sure the deploying principal may {' and '.join(KMS_ACTIONS)} on KMS keys in "
        f"{' and '.join(regions)} (kms:ViaService dynamodb.<region>.amazonaws.com)"
    )
    arn, why = principal_arn(iam, identity)
    if arn is None:
        return warn("kms_grant", title, why, manual)
    denied: list[str] = []
    for region in regions:
        try:
            results = iam.simulate_principal_policy(
                PolicySourceArn=arn,
                ActionNames=list(KMS_ACTIONS),
                ResourceArns=[f"arn:{identity.partition}:kms:{region}:{identity.account}:key/*"],
                ContextEntries=[
                    {
                        "ContextKeyName": "kms:ViaService",
                        "ContextKeyValues": [f"dynamodb.{region}.amazonaws.com"],
                        "ContextKeyType": "string",
                    }
                ],
            )["EvaluationResults"]
        except ClientError as err:
            return warn(
                "kms_grant",
                title,
                f"cannot simulate {arn}: iam:SimulatePrincipalPolicy failed ({_code(err)})",
                manual + "; or grant iam:SimulatePrincipalPolicy to run this check",
            )
        denied += [
            f"{r['EvalActionName']} in {region} ({r['EvalDecision']})"
            for r in results
            if r["EvalDecision"] != "allowed"
        ]
    caveat = (
        "; session policies and key policies are not part of the simulation" if ":assumed-role/" in identity.arn else ""
    )
    if denied:
        return fail("kms_grant", title, f"{arn}: denied {', '.join(denied)}{caveat}", manual)
    return ok("kms_grant", title, f"{arn} may {', '.join(KMS_ACTIONS)} in {', '.join(regions)}{caveat}")
