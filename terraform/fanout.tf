# Sharded fan-out. A room with more than fanout_sharding.shard_threshold members in this region is
# not posted to by the sending invocation alone: send_message (and fanout, for messages from the
# other region) cut its connection ids into shards of shard_size and put one SQS message per shard
# on the fan-out queue (SendMessageBatch, FANOUT_QUEUE_URL); fanout_worker consumes it, posts the
# shard's frame to each id and reports the records it could not settle (ReportBatchItemFailures).
# SQS makes those visible again after the visibility timeout and, after max_receive_count
# receives, moves them to the fan-out DLQ (alarmed; inspect and redrive it with SQS's own
# start-message-move-task once the cause is fixed). Deliveries that fail inside a shard take the
# usual path: the redelivery queue (redelivery.tf), then the delivery DLQ.

locals {
  fanout_queue_timing = {
    delay_seconds = 0 # a shard is live traffic: deliver it now
    # AWS: at least 6 x the function timeout for an SQS event source.
    visibility_timeout_seconds = 6 * local.function_sizes.fanout_worker.timeout
    message_retention_seconds  = 86400 # a day: far longer than a shard stays (precondition below)
  }
  fanout_lifetime_seconds  = var.fanout_sharding.max_receive_count * local.fanout_queue_timing.visibility_timeout_seconds
  fanout_age_alarm_seconds = coalesce(var.queue_age_alarms.fanout, local.fanout_lifetime_seconds)
}

# Shards that failed max_receive_count receives: filled only by the fan-out queue's redrive.
module "fanout_dlq" {
  source = "./modules/dlq"

  name                        = "${local.name_prefix}-fanout-dlq"
  redrive_sources             = [module.fanout_queue.arn]
  kms_deletion_window_in_days = var.kms_deletion_window_in_days
}

module "fanout_queue" {
  source = "./modules/dlq"

  name   = "${local.name_prefix}-fanout"
  timing = local.fanout_queue_timing
  redrive = {
    dead_letter_queue_arn = module.fanout_dlq.arn
    max_receive_count     = var.fanout_sharding.max_receive_count
  }
  kms_deletion_window_in_days = var.kms_deletion_window_in_days
}

resource "aws_lambda_event_source_mapping" "fanout_worker" {
  function_name    = module.functions["fanout_worker"].arn
  event_source_arn = module.fanout_queue.arn

  batch_size                         = var.fanout_sharding.batch_size
  maximum_batching_window_in_seconds = var.fanout_sharding.batching_window_seconds
  # The handler names the records it could not settle; the others are deleted.
  function_response_types = ["ReportBatchItemFailures"]

  # At most this many concurrent invocations; a reservation of fanout_worker must hold it
  # (capacity.tf), else Lambda throttles the mapping and a throttled batch costs its shards a receive.
  scaling_config {
    maximum_concurrency = var.fanout_sharding.maximum_concurrency
  }

  lifecycle {
    precondition {
      condition     = local.fanout_queue_timing.message_retention_seconds > local.fanout_lifetime_seconds
      error_message = "A shard can stay ${local.fanout_lifetime_seconds} s (${var.fanout_sharding.max_receive_count} receives x visibility ${local.fanout_queue_timing.visibility_timeout_seconds} s) but the fan-out queue keeps it ${local.fanout_queue_timing.message_retention_seconds} s: it would expire before reaching the DLQ. Lower fanout_sharding.max_receive_count or the fanout_worker timeout."
    }
  }
}
