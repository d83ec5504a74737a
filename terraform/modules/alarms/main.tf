data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  thresholds = merge({
    lambda_errors      = 0
    lambda_throttles   = 0
    api_errors         = 5
    dynamodb_throttles = 0
    dlq_depth          = 0
    dlq_age            = 3600
    redelivery_age     = 900
    fanout_age         = 1080
    fanout_dlq_age     = 3600
    period_seconds     = 300
    evaluation_periods = 1
  }, var.thresholds)
  account_id = data.aws_caller_identity.current.account_id
  alarm_arns = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.region}:${local.account_id}:alarm:*"
  actions    = [aws_sns_topic.this.arn]

  function_alarms = merge([
    for fn in var.watch.function_names : {
      "${fn}-errors"    = { function_name = fn, metric = "Errors", threshold = local.thresholds.lambda_errors }
      "${fn}-throttles" = { function_name = fn, metric = "Throttles", threshold = local.thresholds.lambda_throttles }
    }
  ]...)

  # The delivery queues: deliveries waiting on the final DLQ (any at all, and for how long nobody
  # replayed them), and the redelivery queue's oldest message (older than a message should get
  # there: redeliver is not consuming). SQS leaves a message received 3 times or more out of
  # ApproximateAgeOfOldestMessage, so the age alarm sees a stalled consumer, not one slow record.
  queue_alarms = {
    "dlq-depth"      = { queue = var.watch.dlq_name, suffix = "depth", metric = "ApproximateNumberOfMessagesVisible", threshold = local.thresholds.dlq_depth, unit = "messages", meaning = "deliveries that failed every redelivery wait for dynamowave replay-dlq" }
    "dlq-age"        = { queue = var.watch.dlq_name, suffix = "oldest-message-age", metric = "ApproximateAgeOfOldestMessage", threshold = local.thresholds.dlq_age, unit = "s", meaning = "a failed delivery has not been replayed (dynamowave replay-dlq)" }
    "redelivery-age" = { queue = var.watch.redelivery_queue_name, suffix = "oldest-message-age", metric = "ApproximateAgeOfOldestMessage", threshold = local.thresholds.redelivery_age, unit = "s", meaning = "the redeliver function is not consuming the queue" }
    # Sharded fan-out: shards that failed every receive, and a worker that is not keeping up.
    "fanout-dlq-depth" = { queue = var.watch.fanout_dlq_name, suffix = "depth", metric = "ApproximateNumberOfMessagesVisible", threshold = local.thresholds.dlq_depth, unit = "messages", meaning = "fan-out shards failed every receive: their recipients missed a message live (catch-up on reconnect still has it)" }
    "fanout-dlq-age"   = { queue = var.watch.fanout_dlq_name, suffix = "oldest-message-age", metric = "ApproximateAgeOfOldestMessage", threshold = local.thresholds.fanout_dlq_age, unit = "s", meaning = "a failed fan-out shard has not been looked at" }
    "fanout-age"       = { queue = var.watch.fanout_queue_name, suffix = "oldest-message-age", metric = "ApproximateAgeOfOldestMessage", threshold = local.thresholds.fanout_age, unit = "s", meaning = "fanout_worker is not consuming the fan-out queue (or not keeping up)" }
  }

  # WebSocket APIs publish IntegrationError and ExecutionError (there is no 5XXError metric).
  api_alarms = {
    "integration-errors" = "IntegrationError"
    "execution-errors"   = "ExecutionError"
  }
}

module "kms" {
  source = "../kms_key"

  alias        = "${var.name_prefix}-alarms"
  description  = "DynamoWave alarm topic ${var.name_prefix}-alarms"
  via_services = ["sns"]
  # The statement AWS documents for CloudWatch alarm actions to an SNS topic encrypted with a
  # customer managed key: CloudWatch itself, Decrypt + GenerateDataKey*, no conditions (a
  # SourceAccount/SourceArn condition is not in the documented statement). Who may publish is
  # limited by the topic policy below (this account's alarms only).
  service_principal_statements = [{
    sid      = "CloudWatchAlarmsPublishEncrypted"
    services = ["cloudwatch.amazonaws.com"]
    actions  = ["kms:Decrypt", "kms:GenerateDataKey*"]
  }]
  tags = var.tags
}

resource "aws_sns_topic" "this" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = module.kms.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid     = "CloudWatchAlarmsOfThisAccount"
    actions = ["sns:Publish"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    resources = [aws_sns_topic.this.arn]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.alarm_arns]
    }
  }

  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    actions   = ["sns:Publish", "sns:Subscribe", "sns:Receive"]
    resources = [aws_sns_topic.this.arn]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "this" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = local.function_alarms

  alarm_name          = "${each.value.function_name}-${lower(each.value.metric)}"
  alarm_description   = "Lambda ${each.value.metric} of ${each.value.function_name}"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = local.thresholds.period_seconds
  evaluation_periods  = local.thresholds.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api" {
  for_each = local.api_alarms

  alarm_name          = "${var.name_prefix}-api-${each.key}"
  alarm_description   = "WebSocket API ${each.value} (integration failures / 5xx) on ${var.watch.api_id}/${var.watch.stage_name}"
  namespace           = "AWS/ApiGateway"
  metric_name         = each.value
  dimensions          = { ApiId = var.watch.api_id, Stage = var.watch.stage_name }
  statistic           = "Sum"
  period              = local.thresholds.period_seconds
  evaluation_periods  = local.thresholds.evaluation_periods
  threshold           = local.thresholds.api_errors
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dynamodb" {
  for_each = toset(["ReadThrottleEvents", "WriteThrottleEvents"])

  alarm_name          = "${var.watch.table_name}-${lower(each.value)}"
  alarm_description   = "DynamoDB ${each.value} on ${var.watch.table_name}"
  namespace           = "AWS/DynamoDB"
  metric_name         = each.value
  dimensions          = { TableName = var.watch.table_name }
  statistic           = "Sum"
  period              = local.thresholds.period_seconds
  evaluation_periods  = local.thresholds.evaluation_periods
  threshold           = local.thresholds.dynamodb_throttles
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "sqs" {
  for_each = local.queue_alarms

  alarm_name          = "${each.value.queue}-${each.value.suffix}"
  alarm_description   = "${each.value.metric} of ${each.value.queue} above ${each.value.threshold} ${each.value.unit}: ${each.value.meaning}"
  namespace           = "AWS/SQS"
  metric_name         = each.value.metric
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = local.thresholds.period_seconds
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# The DLQ depth alarm was a resource of its own.
moved {
  from = aws_cloudwatch_metric_alarm.dlq_depth
  to   = aws_cloudwatch_metric_alarm.sqs["dlq-depth"]
}
