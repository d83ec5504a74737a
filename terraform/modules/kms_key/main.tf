data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # The provider's region unless var.region places the key elsewhere (e.g. a global-table replica).
  region   = coalesce(var.region, data.aws_region.current.region)
  root_arn = "arn:${local.partition}:iam::${local.account_id}:root"
}

# Key policy. In a key policy `Resource = "*"` means "this key": AWS requires it (the policy is
# attached to the key, so no other resource can be named).
data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" is this key; administration is limited to the account root (IAM delegation), as AWS requires so the key never becomes unmanageable.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" is this key; write actions are limited to the account root (admin) and ViaService-conditioned use.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" is the only valid resource in a key policy (it means this key).
  statement {
    sid = "KeyAdministrationByAccount"
    principals {
      type        = "AWS"
      identifiers = [local.root_arn]
    }
    actions = [
      "kms:CancelKeyDeletion",
      "kms:Create*",
      "kms:Delete*",
      "kms:Describe*",
      "kms:Disable*",
      "kms:Enable*",
      "kms:Get*",
      "kms:List*",
      "kms:Put*",
      "kms:Revoke*",
      "kms:RotateKeyOnDemand",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:Update*",
    ]
    resources = ["*"] # required: in a key policy "*" is this key
  }

  # Principals of this account may use the key only through the listed AWS services
  # (their IAM policies must allow it too).
  dynamic "statement" {
    for_each = length(var.via_services) > 0 ? [1] : []
    content {
      sid = "UseThroughServicesOnly"
      principals {
        type        = "AWS"
        identifiers = [local.root_arn]
      }
      actions = [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
      ]
      resources = ["*"] # required: in a key policy "*" is this key
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [for s in var.via_services : "${s}.${local.region}.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:CallerAccount"
        values   = [local.account_id]
      }
    }
  }

  # AWS services encrypt resources with grants; only for AWS resources.
  dynamic "statement" {
    for_each = length(var.via_services) > 0 ? [1] : []
    content {
      sid = "GrantsForAwsResourcesOnly"
      principals {
        type        = "AWS"
        identifiers = [local.root_arn]
      }
      actions   = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
      resources = ["*"] # required: in a key policy "*" is this key
      condition {
        test     = "Bool"
        variable = "kms:GrantIsForAWSResource"
        values   = ["true"]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [for s in var.via_services : "${s}.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.service_principal_statements
    content {
      sid = statement.value.sid
      principals {
        type        = "Service"
        identifiers = statement.value.services
      }
      actions   = statement.value.actions
      resources = ["*"] # required: in a key policy "*" is this key
      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_kms_key" "this" {
  region                  = var.region
  description             = var.description
  deletion_window_in_days = var.deletion_window_in_days
  enable_key_rotation     = true
  rotation_period_in_days = var.rotation_period_in_days
  policy                  = data.aws_iam_policy_document.this.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  region        = var.region
  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}
