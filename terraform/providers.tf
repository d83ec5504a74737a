provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  # Tags are merged once, here; modules only add resource-specific tags.
  default_tags {
    tags = local.tags
  }
}
