# Enumerations and formats, defined once. The root module validates every input against these
# (variable validation may reference locals since Terraform 1.9); child modules receive values
# that were already checked here, and the AWS provider checks the same enums again at plan time
# (log retention, health check interval, runtime, log level, tracing mode), so no module repeats
# these lists.

locals {
  # CloudWatch Logs retention values (PutRetentionPolicy); 0 ("never expire") is refused on purpose.
  log_retention_days = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]

  region_pattern   = "^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"
  dns_name_pattern = "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$"
  zone_id_pattern  = "^Z[A-Z0-9]{1,31}$"
  # A Cognito hosted-UI domain prefix: one DNS label.
  domain_label_pattern = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"

  # [min, max] of numeric inputs, checked by one validation per variable.
  ranges = {
    app_settings = {
      connection_ttl_seconds = [7200, 86400] # at least the 2-hour connection limit
      fanout_concurrency     = [1, 128]
      delivery_budget_ms     = [100, 25000] # below the 29 s integration timeout
    }
    fanout_stream = {
      batch_size                    = [1, 1000]
      batching_window_seconds       = [0, 300]
      parallelization_factor        = [1, 10]
      maximum_retry_attempts        = [0, 10]
      maximum_record_age_in_seconds = [60, 86400]
    }
    redelivery = {
      delay_seconds           = [0, 900] # SQS DelaySeconds
      max_receive_count       = [1, 1000]
      batch_size              = [1, 100] # above 10, SQS mappings need a batching window of 1 s or more
      batching_window_seconds = [0, 300]
      maximum_concurrency     = [2, 1000] # Lambda's bounds for an SQS mapping's ScalingConfig
    }
    queue_age_alarms = {
      dlq        = [60, 1209600] # up to the DLQ's 14-day retention
      redelivery = [60, 1209600]
      fanout     = [60, 1209600]
      fanout_dlq = [60, 1209600]
    }
    # The same bounds as functions/chat/config.py reads them with.
    limits = {
      send_rate_per_second     = [1, 1000]
      send_burst               = [1, 10000]
      max_rooms_per_connection = [1, 1000]
      max_connections_per_user = [1, 1000]
    }
    fanout_sharding = {
      shard_threshold         = [2, 1000000]
      shard_size              = [1, 1000]
      max_receive_count       = [1, 1000]
      batch_size              = [1, 100] # above 10, SQS mappings need a batching window of 1 s or more
      batching_window_seconds = [0, 300]
      maximum_concurrency     = [2, 1000] # Lambda's bounds for an SQS mapping's ScalingConfig
    }
  }
}
