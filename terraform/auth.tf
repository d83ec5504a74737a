# The authorizer's HS256 token secret: an SSM SecureString encrypted with its own CMK.
#
# The secret never enters the plan or the state: it comes from an ephemeral resource and is
# written through the write-only argument value_wo (Terraform >= 1.11). Terraform writes it when
# the parameter is created and whenever auth_secret_version changes (bump it to rotate).
#   PRIMARY:   a fresh random secret from Secrets Manager's GetRandomPassword (nothing stored
#              in Secrets Manager).
#   SECONDARY: the primary region's value, read ephemerally, so a token is valid in both regions.

locals {
  auth_parameter_name = "/${var.project}/${var.environment}/auth/token-secret"
  primary_parameter_arn = join(":", [
    "arn", local.partition, "ssm", var.primary_region, local.account_id, "parameter${local.auth_parameter_name}",
  ])
}

module "auth_kms" {
  source = "./modules/kms_key"

  alias                   = "${local.name_prefix}-auth"
  description             = "DynamoWave ${var.environment} authorizer token secret (SSM SecureString)"
  via_services            = ["ssm"]
  deletion_window_in_days = var.kms_deletion_window_in_days
}

ephemeral "aws_secretsmanager_random_password" "auth" {
  count = local.is_primary ? 1 : 0

  password_length     = 64
  exclude_punctuation = true
}

ephemeral "aws_ssm_parameter" "primary_auth" {
  count = local.is_primary ? 0 : 1

  region          = var.primary_region
  arn             = local.primary_parameter_arn
  with_decryption = true
}

resource "aws_ssm_parameter" "auth_secret" {
  name        = local.auth_parameter_name
  description = "HS256 secret of DynamoWave ${var.environment} tokens (read by the authorizer)"
  type        = "SecureString"
  tier        = "Standard"
  key_id      = module.auth_kms.arn

  value_wo = (local.is_primary
    ? one(ephemeral.aws_secretsmanager_random_password.auth[*].random_password)
    : one(ephemeral.aws_ssm_parameter.primary_auth[*].value)
  )
  value_wo_version = var.auth_secret_version
}
