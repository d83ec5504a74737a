module "kms" {
  source = "../kms_key"

  alias                   = "${var.name}-sqs"
  description             = "DynamoWave SQS queue ${var.name}"
  via_services            = ["sqs"]
  deletion_window_in_days = var.kms_deletion_window_in_days
  tags                    = var.tags
}

resource "aws_sqs_queue" "this" {
  name                              = var.name
  message_retention_seconds         = 1209600 # 14 days, the maximum: time to replay
  kms_master_key_id                 = module.kms.arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    actions   = ["sqs:*"] # Deny statement: covers every action on purpose
    resources = [aws_sqs_queue.this.arn]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.this.json
}
