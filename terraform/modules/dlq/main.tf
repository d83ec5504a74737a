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
  delay_seconds                     = var.timing.delay_seconds
  visibility_timeout_seconds        = var.timing.visibility_timeout_seconds
  message_retention_seconds         = var.timing.message_retention_seconds
  kms_master_key_id                 = module.kms.arn
  kms_data_key_reuse_period_seconds = 300
  # A message received max_receive_count times without being deleted moves to the dead-letter queue.
  redrive_policy = var.redrive == null ? null : jsonencode({
    deadLetterTargetArn = var.redrive.dead_letter_queue_arn
    maxReceiveCount     = var.redrive.max_receive_count
  })
  tags = var.tags
}

# As a dead-letter queue: only the named source queues may redrive into it. A resource of its own,
# not the queue's redrive_allow_policy argument, so that a source queue can name this queue in its
# redrive policy and be named here without a dependency cycle.
resource "aws_sqs_queue_redrive_allow_policy" "this" {
  count = var.redrive_sources == null ? 0 : 1

  queue_url = aws_sqs_queue.this.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = var.redrive_sources
  })
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
