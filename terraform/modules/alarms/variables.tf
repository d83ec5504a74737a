variable "name_prefix" {
  description = "Prefix of the topic, key alias and API alarm names, e.g. `dynamowave-dev`."
  type        = string
}

variable "watch" {
  description = "What to alarm on: deployed Lambda function names (Errors, Throttles), the WebSocket API id and stage (IntegrationError, ExecutionError), the table (read/write throttle events), the delivery DLQ (depth, age of the oldest message), the redelivery queue (age of the oldest message), the fan-out queue (age of the oldest message) and the fan-out DLQ (depth, age of the oldest message)."
  type = object({
    function_names        = list(string)
    api_id                = string
    stage_name            = string
    table_name            = string
    dlq_name              = string
    redelivery_queue_name = string
    fanout_queue_name     = string
    fanout_dlq_name       = string
  })
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "thresholds" {
  description = "Alarm when a period's sum exceeds: a function's Errors / Throttles, the API's IntegrationError or ExecutionError, the table's throttle events, the records waiting on a DLQ (delivery or fan-out; its maximum); alarm when the oldest message of the DLQ (dlq_age), the redelivery queue (redelivery_age), the fan-out queue (fanout_age) or the fan-out DLQ (fanout_dlq_age) is older than that many seconds; period in seconds (a multiple of 60) and periods evaluated before alarming (1-24)."
  type        = map(number)
  default     = {}

  validation {
    condition     = length(setsubtract(keys(var.thresholds), ["lambda_errors", "lambda_throttles", "api_errors", "dynamodb_throttles", "dlq_depth", "dlq_age", "redelivery_age", "fanout_age", "fanout_dlq_age", "period_seconds", "evaluation_periods"])) == 0
    error_message = "thresholds keys: lambda_errors, lambda_throttles, api_errors, dynamodb_throttles, dlq_depth (defaults 0, 0, 5, 0, 0), dlq_age, redelivery_age, fanout_age, fanout_dlq_age (seconds, defaults 3600, 900, 1080, 3600), period_seconds (300, a multiple of 60), evaluation_periods (1, 1-24)."
  }
}

variable "tags" {
  description = "Tags for the topic, key and alarms."
  type        = map(string)
  default     = {}
}
