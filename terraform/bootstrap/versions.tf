terraform {
  # Partial configuration: `make bootstrap` passes backend.hcl and the key
  # <project>-bootstrap/<REGION>/terraform.tfstate (one state per account and region).
  backend "s3" {}

  # The same Terraform and provider as the environment stack (terraform/versions.tf).
  required_version = ">= 1.11"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 6.66" }
  }
}
