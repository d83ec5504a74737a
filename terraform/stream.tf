# Cross-region delivery: the fanout function consumes this region's table (replica) stream and
# delivers messages that originated in another region to this region's members. Replicated
# writes arrive as INSERTs in the replica's stream; messages written here are filtered out
# (the sender's region already delivered them), and so is everything that is not a message.

locals {
  # Lambda event filtering, DynamoDB stream syntax: typed attribute values (S) in NewImage.
  # `anything-but` does not match a missing attribute, so items without originRegion are dropped.
  fanout_filter = {
    eventName = ["INSERT"]
    dynamodb = {
      NewImage = {
        SK           = { S = [{ prefix = "MSG#" }] }
        originRegion = { S = [{ "anything-but" = [var.region] }] }
      }
    }
  }
}

# Batches that still fail after the bounded retries: metadata (shard, sequence numbers) for
# inspection and replay. A queue of its own, apart from the delivery DLQ that make replay-dlq
# reads, because the records have a different shape.
module "fanout_failures" {
  source = "./modules/dlq"

  name                        = "${local.name_prefix}-fanout-failures"
  kms_deletion_window_in_days = var.kms_deletion_window_in_days
}

resource "aws_lambda_event_source_mapping" "fanout" {
  function_name     = module.functions["fanout"].arn
  event_source_arn  = local.table_stream_arn
  starting_position = "LATEST"

  batch_size                         = var.fanout_stream.batch_size
  maximum_batching_window_in_seconds = var.fanout_stream.batching_window_seconds
  parallelization_factor             = var.fanout_stream.parallelization_factor

  # The handler reports the first failed record; Lambda retries from there, splits failing
  # batches, gives up after bounded retries / record age and sends the batch's metadata to SQS.
  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.fanout_stream.maximum_retry_attempts
  maximum_record_age_in_seconds  = var.fanout_stream.maximum_record_age_in_seconds

  filter_criteria {
    filter {
      pattern = jsonencode(local.fanout_filter)
    }
  }

  destination_config {
    on_failure {
      destination_arn = module.fanout_failures.arn
    }
  }
}
