"""`dynamowave drill`: a Route 53 failover drill against a deployed two-region stack.

Operator runbook: docs/runbooks/failover-drill.md. Modules, each importing only those above it:
``model`` (types, constants, errors), ``inputs`` (Terraform outputs), ``probes`` (DNS, ping,
HTTP), ``route53`` (read-only Route 53 views), ``deps``, ``report``, ``terminal``, ``signals``,
``observe``, ``preflight``, ``runner`` (the steps and the guaranteed restore), ``plan``
(``--dry-run``) and ``cli``.
"""

from __future__ import annotations

from dynamowave.drill.cli import configure_parser, main

__all__ = ["configure_parser", "main"]
