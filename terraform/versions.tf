terraform {
  # ~> 6.66: the provider version tfcheck validates against; the lock file (make lock) pins the build.
  # 1.11+: the authorizer secret is written through a write-only argument (value_wo) from an
  # ephemeral resource, so it never lands in the plan or the state.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.66"
    }
  }

  # Partial configuration: `make init` passes backend.hcl (bucket, region, use_lockfile = true)
  # and a per-region key, so each region has its own state; the workspace is the environment.
  backend "s3" {}
}
