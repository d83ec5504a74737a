terraform {
  # ~> 6.66: the provider version tfcheck validates against; the lock file (make lock) pins the build.
  # 1.11+: the floor this stack is tested with (variable validations refer to other variables and
  # locals, which needs 1.9; the aws provider's per-resource region argument needs 6.x).
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
