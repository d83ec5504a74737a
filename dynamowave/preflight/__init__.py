"""`dynamowave preflight`: read-only checks of an AWS account and region before Terraform runs.

``make preflight ENV=dev REGION=eu-west-1`` prints one row per check (OK / WARN / FAIL, each
WARN or FAIL with the fix to apply): Terraform and AWS provider versions, the caller's identity
and ``allowed_account_ids``, Lambda concurrency against the env's reservations, API Gateway and
Route 53 quotas, the hosted zone and its delegation, the apply order (the secondary needs the
primary's replica) and KMS ``CreateGrant`` for the replica. Exit 0 without FAIL, 1 with one,
2 for usage errors. ``docs/preflight.md`` describes each row.

Layout: ``model`` (rows, table, JSON), ``tfconfig`` (env inputs via python-hcl2), ``versions``
(Terraform CLI and provider), ``account`` (identity, Lambda), ``quotas`` (API Gateway, Route 53),
``deploy`` (hosted zone, primary, KMS), ``dns`` (public NS lookups), ``cli``.
"""

from __future__ import annotations

from .cli import configure_parser, main

__all__ = ["configure_parser", "main"]
