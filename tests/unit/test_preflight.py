"""`dynamowave preflight` row by row: pure checks over moto clients, a fake IAM simulator, a fake
terraform runner and an injected DNS resolver. Nothing here touches a real account or the network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from dynamowave.preflight import account, deploy, quotas
from dynamowave.preflight.model import Status
from tests.unit.test_preflight_support import (
    ACCOUNT,
    PRIMARY,
    SECONDARY,
    FakeIam,
    WithReplicas,
    env_config,
    moto_env,  # noqa: F401 - the fixture, used by name
    patch_quotas,
)

ZONE_NS = frozenset({"ns-1.awsdns-01.org", "ns-2.awsdns-02.net"})


# --------------------------------------------------------------------------------------------
# identity and Lambda concurrency


@pytest.mark.usefixtures("moto_env")
def test_identity_and_allowed_accounts(tmp_path: Path) -> None:
    identity = account.caller_identity(boto3.client("sts", region_name=PRIMARY))
    assert identity.account == ACCOUNT
    assert account.identity_row(identity, env_config(tmp_path)).status is Status.OK
    allowed = env_config(tmp_path, f'allowed_account_ids = ["{ACCOUNT}"]\n')
    assert account.identity_row(identity, allowed).status is Status.OK
    other = account.identity_row(identity, env_config(tmp_path, 'allowed_account_ids = ["999999999999"]\n'))
    assert other.status is Status.FAIL and "AWS_PROFILE" in (other.fix or "")


def concurrency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quota: int | None, minimum: int = 100) -> Any:
    if quota is not None:
        patch_quotas(monkeypatch, {account.LAMBDA_CONCURRENCY_QUOTA: quota})
    cfg = env_config(tmp_path)  # connect 5, send_message 50, health unreserved
    sq = boto3.client("service-quotas", region_name=PRIMARY)
    return account.lambda_concurrency_check(sq, boto3.client("lambda", region_name=PRIMARY), cfg, PRIMARY, minimum)


@pytest.mark.usefixtures("moto_env")
def test_lambda_concurrency_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    row = concurrency(tmp_path, monkeypatch, 1000)
    assert row.status is Status.OK and "945 would remain" in row.detail and "unreserved (health)" in row.detail


@pytest.mark.usefixtures("moto_env")
def test_lambda_concurrency_fails_below_the_unreserved_minimum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    row = concurrency(tmp_path, monkeypatch, 150)
    assert row.status is Status.FAIL and "95 would remain" in row.detail
    assert "request a quota increase for L-B99A9384 to at least 155" in (row.fix or "")
    assert "reserved_concurrency = null for send_message" in (row.fix or "")


@pytest.mark.usefixtures("moto_env")
def test_lambda_concurrency_threshold_is_a_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert concurrency(tmp_path, monkeypatch, 150, minimum=50).status is Status.OK


@pytest.mark.usefixtures("moto_env")
def test_lambda_concurrency_unknown_quota_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    row = concurrency(tmp_path, monkeypatch, None)  # moto's Service Quotas knows no lambda quota
    assert row.status is Status.WARN and "needs >= 155" in row.detail


class FakeLambda:
    """GetAccountSettings (moto lacks it): 200 in total, 30 reserved, 10 of them by our connect."""

    def get_account_settings(self) -> dict[str, Any]:
        return {"AccountLimit": {"ConcurrentExecutions": 200, "UnreservedConcurrentExecutions": 170}}

    def get_function_concurrency(self, FunctionName: str) -> dict[str, Any]:
        return {"ReservedConcurrentExecutions": 10} if FunctionName == "dynamowave-dev-connect" else {}


@pytest.mark.usefixtures("moto_env")
def test_lambda_concurrency_falls_back_to_account_settings(tmp_path: Path) -> None:
    sq = boto3.client("service-quotas", region_name=PRIMARY)
    row = account.lambda_concurrency_check(sq, FakeLambda(), env_config(tmp_path), PRIMARY, 100)
    # 200 - (30 - 10 ours) - 55 requested = 125
    assert row.status is Status.OK and "GetAccountSettings" in row.detail and "other functions reserve 20" in row.detail
    assert "125 would remain" in row.detail


# --------------------------------------------------------------------------------------------
# API Gateway and Route 53 quotas


@pytest.mark.usefixtures("moto_env")
def test_apigateway_quotas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apigw2 = boto3.client("apigatewayv2", region_name=PRIMARY)
    apigw = boto3.client("apigateway", region_name=PRIMARY)
    sq = boto3.client("service-quotas", region_name=PRIMARY)
    cfg = env_config(tmp_path)
    assert quotas.apigateway_row(apigw2, apigw, sq, cfg, PRIMARY).status is Status.OK
    apigw2.create_api(Name="other", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    monkeypatch.setattr(quotas, "REGIONAL_APIS_LIMIT", 2)
    full = quotas.apigateway_row(apigw2, apigw, sq, cfg, PRIMARY)
    assert full.status is Status.FAIL and "regional APIs 1/2 (+2)" in full.detail
    monkeypatch.setattr(quotas, "REGIONAL_APIS_LIMIT", 600)
    domain = env_config(tmp_path, 'domain_name = "chat.example.com"\nhosted_zone_id = "Z1"\n')
    unknown = quotas.apigateway_row(apigw2, apigw, sq, domain, PRIMARY)
    assert unknown.status is Status.WARN and "custom domains 0/? (+1)" in unknown.detail
    patch_quotas(monkeypatch, {quotas.APIGW_CUSTOM_DOMAINS_QUOTA: 120})
    assert quotas.apigateway_row(apigw2, apigw, sq, domain, PRIMARY).status is Status.OK


@pytest.mark.usefixtures("moto_env")
def test_route53_quotas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r53 = boto3.client("route53", region_name=PRIMARY)
    sq = boto3.client("service-quotas", region_name="us-east-1")
    assert quotas.route53_row(r53, sq, env_config(tmp_path)).status is Status.OK  # no domain
    cfg = env_config(tmp_path, 'domain_name = "chat.example.com"\nhosted_zone_id = "Z1"\n')
    unknown = quotas.route53_row(r53, sq, cfg)
    assert unknown.status is Status.WARN and "health checks 0/? (+1)" in unknown.detail
    patch_quotas(monkeypatch, {quotas.ROUTE53_HEALTH_CHECKS_QUOTA: 1, quotas.ROUTE53_HOSTED_ZONES_QUOTA: 500})
    assert quotas.route53_row(r53, sq, cfg).status is Status.OK
    r53.create_health_check(
        CallerReference="x",
        HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": "example.org", "ResourcePath": "/"},
    )
    full = quotas.route53_row(r53, sq, cfg)
    assert full.status is Status.FAIL and "health checks 1/1 (+1)" in full.detail and "L-ACB674F3" in (full.fix or "")


# --------------------------------------------------------------------------------------------
# hosted zone


def zone_setup(tmp_path: Path, name: str = "example.com") -> tuple[Any, Any, frozenset[str]]:
    r53 = boto3.client("route53", region_name=PRIMARY)
    zone = r53.create_hosted_zone(Name=name, CallerReference=name)
    zone_id = zone["HostedZone"]["Id"].split("/")[-1]
    ns = frozenset(n.lower() for n in zone["DelegationSet"]["NameServers"])
    cfg = env_config(tmp_path, f'custom_domain = {{ name = "chat.example.com", hosted_zone_id = "{zone_id}" }}\n')
    return r53, cfg, ns


@pytest.mark.usefixtures("moto_env")
def test_hosted_zone_delegated(tmp_path: Path) -> None:
    r53, cfg, ns = zone_setup(tmp_path)
    row = deploy.hosted_zone_row(r53, cfg, lambda zone: frozenset(n + "." for n in ns))
    assert row.status is Status.OK and "delegated" in row.detail


@pytest.mark.usefixtures("moto_env")
def test_hosted_zone_not_delegated(tmp_path: Path) -> None:
    r53, cfg, ns = zone_setup(tmp_path)
    row = deploy.hosted_zone_row(r53, cfg, lambda zone: frozenset({"ns1.registrar-parking.example"}))
    assert row.status is Status.FAIL and "NOT delegated" in row.detail and sorted(ns)[0] in (row.fix or "")
    partial = deploy.hosted_zone_row(r53, cfg, lambda zone: frozenset({sorted(ns)[0], "ns1.other.example"}))
    assert partial.status is Status.WARN and "partly" in partial.detail


@pytest.mark.usefixtures("moto_env")
def test_hosted_zone_resolver_failure_warns(tmp_path: Path) -> None:
    r53, cfg, _ = zone_setup(tmp_path)

    def broken(zone: str) -> frozenset[str]:
        raise OSError("network unreachable")

    row = deploy.hosted_zone_row(r53, cfg, broken)
    assert row.status is Status.WARN and "network unreachable" in row.detail and "dig +short NS" in (row.fix or "")


@pytest.mark.usefixtures("moto_env")
def test_hosted_zone_problems(tmp_path: Path) -> None:
    r53, _, _ = zone_setup(tmp_path, name="other.org")
    zone_id = r53.list_hosted_zones()["HostedZones"][0]["Id"].split("/")[-1]
    elsewhere = env_config(tmp_path, f'domain_name = "chat.example.com"\nhosted_zone_id = "{zone_id}"\n')
    assert "not inside zone other.org" in deploy.hosted_zone_row(r53, elsewhere, lambda z: ZONE_NS).detail
    missing = env_config(tmp_path, 'domain_name = "chat.example.com"\nhosted_zone_id = "ZNOPE"\n')
    row = deploy.hosted_zone_row(r53, missing, lambda z: ZONE_NS)
    assert row.status is Status.FAIL and "does not exist" in row.detail
    half = env_config(tmp_path, 'domain_name = "chat.example.com"\n')
    assert deploy.hosted_zone_row(r53, half, lambda z: ZONE_NS).status is Status.FAIL
    assert deploy.hosted_zone_row(r53, env_config(tmp_path), lambda z: ZONE_NS).status is Status.OK


@pytest.mark.usefixtures("moto_env")
def test_hosted_zone_private_fails(tmp_path: Path) -> None:
    ec2 = boto3.client("ec2", region_name=PRIMARY)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    r53 = boto3.client("route53", region_name=PRIMARY)
    zone = r53.create_hosted_zone(
        Name="example.com",
        CallerReference="p",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "eu-west-1", "VPCId": vpc},
    )
    zone_id = zone["HostedZone"]["Id"].split("/")[-1]
    cfg = env_config(tmp_path, f'domain_name = "chat.example.com"\nhosted_zone_id = "{zone_id}"\n')
    row = deploy.hosted_zone_row(r53, cfg, lambda z: ZONE_NS)
    assert row.status is Status.FAIL and "private" in row.detail


# --------------------------------------------------------------------------------------------
# apply order


@pytest.mark.usefixtures("moto_env")
def test_primary_region_is_always_in_order(tmp_path: Path) -> None:
    row = deploy.primary_row(boto3.client("dynamodb", region_name=PRIMARY), env_config(tmp_path), PRIMARY)
    assert row.status is Status.OK and f"replica in {SECONDARY}" in row.detail


def make_table(region: str = PRIMARY) -> Any:
    ddb = boto3.client("dynamodb", region_name=region)
    ddb.create_table(
        TableName="dynamowave-dev",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


@pytest.mark.usefixtures("moto_env")
def test_secondary_before_the_primary_fails(tmp_path: Path) -> None:
    ddb = boto3.client("dynamodb", region_name=PRIMARY)
    row = deploy.primary_row(ddb, env_config(tmp_path), SECONDARY)
    assert row.status is Status.FAIL and "does not exist" in row.detail
    assert row.fix == f"apply the primary first: make apply ENV=dev REGION={PRIMARY}"
    make_table()
    no_replica = deploy.primary_row(ddb, env_config(tmp_path), SECONDARY)
    assert no_replica.status is Status.FAIL and f"no replica in {SECONDARY}" in no_replica.detail


@pytest.mark.usefixtures("moto_env")
@pytest.mark.parametrize(("status", "expected"), [("ACTIVE", Status.OK), ("CREATING", Status.WARN)])
def test_secondary_after_the_primary(tmp_path: Path, status: str, expected: Status) -> None:
    ddb = WithReplicas(make_table(), [{"RegionName": SECONDARY, "ReplicaStatus": status}])
    assert deploy.primary_row(ddb, env_config(tmp_path), SECONDARY).status is expected


# --------------------------------------------------------------------------------------------
# KMS grants


def identity(arn: str) -> account.Identity:
    return account.Identity(account=ACCOUNT, arn=arn, user_id="AIDA")


USER = f"arn:aws:iam::{ACCOUNT}:user/deployer"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/alice"


def test_kms_grant_allowed_and_denied(tmp_path: Path) -> None:
    cfg = env_config(tmp_path)
    iam = FakeIam()
    row = deploy.kms_grant_row(iam, identity(USER), cfg)
    assert row.status is Status.OK and iam.simulated == [(USER, PRIMARY), (USER, SECONDARY)]
    denied = deploy.kms_grant_row(FakeIam(denied={(SECONDARY, "kms:CreateGrant")}), identity(USER), cfg)
    assert denied.status is Status.FAIL and f"kms:CreateGrant in {SECONDARY} (implicitDeny)" in denied.detail


def test_kms_grant_for_an_assumed_role(tmp_path: Path) -> None:
    cfg = env_config(tmp_path)
    iam = FakeIam()
    row = deploy.kms_grant_row(iam, identity(SESSION), cfg)
    assert row.status is Status.OK and iam.simulated[0][0] == f"arn:aws:iam::{ACCOUNT}:role/ci/Deployer"
    assert "session policies" in row.detail
    blind = deploy.kms_grant_row(FakeIam(deny_get_role=True), identity(SESSION), cfg)
    assert blind.status is Status.WARN and "iam:GetRole" in blind.detail and "assumed role Deployer" in blind.detail


def test_kms_grant_cannot_simulate(tmp_path: Path) -> None:
    cfg = env_config(tmp_path)
    no_sim = deploy.kms_grant_row(FakeIam(deny_simulate=True), identity(USER), cfg)
    assert no_sim.status is Status.WARN and "SimulatePrincipalPolicy" in no_sim.detail
    root = deploy.kms_grant_row(FakeIam(), identity(f"arn:aws:iam::{ACCOUNT}:root"), cfg)
    assert root.status is Status.WARN and "root" in root.detail
    single = env_config(tmp_path, "secondary_region = null\n")
    assert deploy.kms_grant_row(FakeIam(), identity(USER), single).status is Status.OK


def test_access_denied_is_a_client_error() -> None:
    # FakeIam raises what botocore raises, so the rows see the real exception type.
    with pytest.raises(ClientError):
        FakeIam(deny_simulate=True).simulate_principal_policy(PolicySourceArn=USER, ActionNames=[], ResourceArns=[])
