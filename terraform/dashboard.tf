# One CloudWatch dashboard per region: the application's own metrics next to what AWS measures of
# the WebSocket API, the functions, the table and the queues. Dashboards are account-wide (one
# name space for every region), so the name carries the region.
#
# Application metrics are Embedded Metric Format lines that Powertools writes to each function's
# log (functions/chat/metrics.py): namespace DynamoWave, dimension service = <project>-<environment>
# (POWERTOOLS_SERVICE_NAME). EMF needs no IAM permission: CloudWatch Logs extracts the metrics.

locals {
  dashboard_name = "${local.name_prefix}-${var.region}"
  # The region this one replicates to (ReplicationLatency is published by the sending region).
  peer_region = local.two_regions ? (local.is_primary ? var.secondary_region : var.primary_region) : null
  app_dim     = ["service", local.name_prefix]

  # Application metrics (namespace DynamoWave), by widget; counts are summed per period.
  dashboard_app_counts = {
    "Messages"                = ["MessagesAccepted", "Deliveries", "DeliveryFailures"]
    "Recovery"                = ["Redeliveries", "DeadLetters", "StaleConnectionsPruned"]
    "Abuse limits and auth"   = ["RateLimitedFrames", "AuthRejections"]
    "Sharded fan-out: shards" = ["ShardsEnqueued"]
  }
  dashboard_app_durations = { FanoutDuration = ["p50", "p99"] }
  # WebSocket API (AWS/ApiGateway, ApiId + Stage) => statistic.
  dashboard_api_metrics = {
    ConnectCount       = "Sum"
    MessageCount       = "Sum"
    ClientError        = "Sum"
    ExecutionError     = "Sum"
    IntegrationError   = "Sum"
    IntegrationLatency = "p99"
  }
  # Lambda (AWS/Lambda, FunctionName), one line per function => statistic.
  dashboard_lambda_metrics = {
    Errors               = "Sum"
    Throttles            = "Sum"
    Duration             = "p99"
    ConcurrentExecutions = "Maximum"
  }
  # DynamoDB (AWS/DynamoDB, TableName) => statistic. ThrottledRequests is published per
  # TableName + Operation: one SEARCH expression collects every operation.
  dashboard_table_metrics = {
    ConsumedReadCapacityUnits  = "Sum"
    ConsumedWriteCapacityUnits = "Sum"
  }
  # SQS (AWS/SQS, QueueName): depth of the dead-letter queues, age of every queue's oldest message.
  dashboard_dlqs = {
    "delivery DLQ"          = module.dlq.name
    "fan-out DLQ"           = module.fanout_dlq.name
    "stream failures queue" = module.fanout_failures.name
  }
  dashboard_queues = merge(local.dashboard_dlqs, {
    "redelivery queue" = module.redelivery_queue.name
    "fan-out queue"    = module.fanout_queue.name
  })

  dashboard_widgets = concat(
    [for title, names in local.dashboard_app_counts : {
      type = "metric", width = 8, height = 6
      properties = {
        title   = title, region = var.region, view = "timeSeries", stacked = false, stat = "Sum", period = 60
        metrics = [for m in names : concat([local.metrics_namespace, m], local.app_dim)]
      }
    }],
    [for m, stats in local.dashboard_app_durations : {
      type = "metric", width = 8, height = 6
      properties = {
        title   = "${m} (ms)", region = var.region, view = "timeSeries", period = 60
        metrics = [for st in stats : concat([local.metrics_namespace, m], local.app_dim, [{ stat = st, label = "${m} ${st}" }])]
      }
    }],
    [for m, st in local.dashboard_api_metrics : {
      type = "metric", width = 8, height = 6
      properties = {
        title   = "API ${m} (${st})", region = var.region, view = "timeSeries", stat = st, period = 60
        metrics = [["AWS/ApiGateway", m, "ApiId", module.websocket_api.api_id, "Stage", module.websocket_api.stage_name]]
      }
    }],
    [for m, st in local.dashboard_lambda_metrics : {
      type = "metric", width = 12, height = 6
      properties = {
        title   = "Lambda ${m} (${st})", region = var.region, view = "timeSeries", stat = st, period = 60
        metrics = [for k, f in module.functions : ["AWS/Lambda", m, "FunctionName", f.function_name, { label = k }]]
      }
    }],
    [{
      type = "metric", width = 12, height = 6
      properties = {
        title   = "DynamoDB consumed capacity", region = var.region, view = "timeSeries", period = 60
        metrics = [for m, st in local.dashboard_table_metrics : ["AWS/DynamoDB", m, "TableName", local.table_name, { stat = st }]]
      }
      }, {
      type = "metric", width = 12, height = 6
      properties = {
        title = "DynamoDB ThrottledRequests (every operation)", region = var.region, view = "timeSeries", period = 60
        metrics = [[{
          id         = "throttled"
          label      = "ThrottledRequests"
          expression = "SEARCH('{AWS/DynamoDB,Operation,TableName} MetricName=\"ThrottledRequests\" TableName=\"${local.table_name}\"', 'Sum', 60)"
        }]]
      }
    }],
    local.peer_region == null ? [] : [{
      type = "metric", width = 12, height = 6
      properties = {
        title   = "DynamoDB ReplicationLatency to ${local.peer_region} (ms)", region = var.region, view = "timeSeries", period = 60
        metrics = [for st in ["Average", "Maximum"] : ["AWS/DynamoDB", "ReplicationLatency", "TableName", local.table_name, "ReceivingRegion", local.peer_region, { stat = st }]]
      }
    }],
    [{
      type = "metric", width = 12, height = 6
      properties = {
        title   = "SQS dead letters waiting (ApproximateNumberOfMessagesVisible)", region = var.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [for label, q in local.dashboard_dlqs : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { label = label }]]
      }
      }, {
      type = "metric", width = 12, height = 6
      properties = {
        title   = "SQS ApproximateAgeOfOldestMessage (s)", region = var.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [for label, q in local.dashboard_queues : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q, { label = label }]]
      }
    }],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
