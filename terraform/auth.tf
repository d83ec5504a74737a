# The authorizer's HS256 token secret: an SSM SecureString encrypted with its own CMK.
#
# The secret never enters the plan or the state: it comes from an ephemeral resource and is
# written through the write-only argument value_wo (Terraform >= 1.11). Terraform writes it when
# the parameter is created and whenever auth_secret_version changes (bump it to rotate).
#   PRIMARY:   a fresh random secret from Secrets Manager's GetRandomPassword (nothing stored
#              in Secrets Manager).
#   SECONDARY: the primary region's value, read ephemerally, so a token is valid in both regions.
#
# Rotation across regions: after the primary wrote a secret it records the version in a plain
# String parameter (auth-version/token-secret). The secondary reads that marker with a lookup
# that never fails (by path) and refuses a version the primary does not hold
# (terraform_data.guard), so applying the secondary first can never store the old secret under
# the new version; its destroy still works when the primary is already gone.

locals {
  auth_parameter_name = "/${var.project}/${var.environment}/auth/token-secret"
  auth_version_path   = "/${var.project}/${var.environment}/auth-version"
  primary_parameter_arn = join(":", [
    "arn", local.partition, "ssm", var.primary_region, local.account_id, "parameter${local.auth_parameter_name}",
  ])
  # SECONDARY: the secret version the primary holds (null: none yet, or the primary is gone).
  primary_versions       = one(data.aws_ssm_parameters_by_path.primary_auth_version[*])
  primary_secret_version = try(local.primary_versions.values[index(local.primary_versions.names, "${local.auth_version_path}/token-secret")], null)
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

data "aws_ssm_parameters_by_path" "primary_auth_version" {
  count = local.is_primary ? 0 : 1

  region          = var.primary_region
  path            = local.auth_version_path
  with_decryption = false
}

# Only opened when the primary holds exactly the version asked for.
ephemeral "aws_ssm_parameter" "primary_auth" {
  count = !local.is_primary && local.primary_secret_version == tostring(var.auth_secret_version) ? 1 : 0

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

# PRIMARY: the version just written, for the secondary's check (after the secret itself).
resource "aws_ssm_parameter" "auth_secret_version" {
  #checkov:skip=CKV2_AWS_34:Not a secret: the version number of the token secret, compared by the secondary region's plan.
  count = local.is_primary ? 1 : 0

  name        = "${local.auth_version_path}/token-secret"
  description = "Version of ${local.auth_parameter_name} (auth_secret_version); not secret"
  type        = "String"
  value       = tostring(aws_ssm_parameter.auth_secret.value_wo_version)
}
