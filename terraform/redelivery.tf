# Deliveries that fail within their invocation's budget. send_message and fanout post to each
# connection with bounded retries; a post that still fails when the budget is spent is parked on
# the redelivery queue (REDELIVERY_QUEUE_URL). The redeliver function consumes it and reports the
# records that fail again (ReportBatchItemFailures): SQS makes them visible again after the
# visibility timeout and, after max_receive_count receives, moves them to the delivery DLQ, which
# alarms and which `dynamowave replay-dlq` drains (output dlq_url).
#
# Timeline of one record (terraform/README.md, "Failed deliveries"): parked at t0, first received
# at t0 + delay, again every visibility timeout V while it fails, in the DLQ at about
# t0 + delay + max_receive_count x V.

locals {
  redelivery_queue_timing = {
    delay_seconds = var.redelivery.delay_seconds
    # AWS: at least 6 x the function timeout for an SQS event source, so a batch that is still
    # running (or retried by Lambda after a throttle) is not received a second time meanwhile.
    visibility_timeout_seconds = 6 * local.function_sizes.redeliver.timeout
    message_retention_seconds  = 345600 # 4 days: far longer than the records stay (precondition below)
  }
  # How long a record is meant to stay on the redelivery queue at most: delivered or moved on by then.
  redelivery_lifetime_seconds  = local.redelivery_queue_timing.delay_seconds + var.redelivery.max_receive_count * local.redelivery_queue_timing.visibility_timeout_seconds
  redelivery_age_alarm_seconds = coalesce(var.queue_age_alarms.redelivery, local.redelivery_lifetime_seconds)
}

# The final delivery DLQ: filled only by the redelivery queue's redrive policy, and only from it.
module "dlq" {
  source = "./modules/dlq"

  name                        = "${local.name_prefix}-delivery-dlq"
  redrive_sources             = [module.redelivery_queue.arn]
  kms_deletion_window_in_days = var.kms_deletion_window_in_days
}

module "redelivery_queue" {
  source = "./modules/dlq"

  name   = "${local.name_prefix}-redelivery"
  timing = local.redelivery_queue_timing
  redrive = {
    dead_letter_queue_arn = module.dlq.arn
    max_receive_count     = var.redelivery.max_receive_count
  }
  kms_deletion_window_in_days = var.kms_deletion_window_in_days
}

resource "aws_lambda_event_source_mapping" "redeliver" {
  function_name    = module.functions["redeliver"].arn
  event_source_arn = module.redelivery_queue.arn

  batch_size                         = var.redelivery.batch_size
  maximum_batching_window_in_seconds = var.redelivery.batching_window_seconds
  # The handler names the records that failed again; the others are deleted.
  function_response_types = ["ReportBatchItemFailures"]

  # At most this many concurrent invocations; a reservation of redeliver must hold it (capacity.tf),
  # else Lambda throttles the mapping and a throttled batch costs its records a receive.
  scaling_config {
    maximum_concurrency = var.redelivery.maximum_concurrency
  }

  lifecycle {
    precondition {
      condition     = local.redelivery_queue_timing.message_retention_seconds > local.redelivery_lifetime_seconds
      error_message = "A redelivery record can stay ${local.redelivery_lifetime_seconds} s (delay ${local.redelivery_queue_timing.delay_seconds} + ${var.redelivery.max_receive_count} receives x visibility ${local.redelivery_queue_timing.visibility_timeout_seconds} s) but the queue keeps it ${local.redelivery_queue_timing.message_retention_seconds} s: it would expire before reaching the DLQ. Lower redelivery.max_receive_count or the redeliver timeout."
    }
  }
}
