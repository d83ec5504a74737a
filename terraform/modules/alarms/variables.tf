variable "name_prefix" {
  description = "Prefix of the topic, key alias and API alarm names, e.g. `dynamowave-dev`."
  type        = string
}

variable "watch" {
  description = "What to alarm on: deployed Lambda function names (Errors, Throttles), the WebSocket API id and stage (IntegrationError, ExecutionError), the table (read/write throttle events) and the delivery DLQ (depth)."
  type = object({
    function_names = list(string)
    api_id         = string
    stage_name     = string
    table_name     = string
    dlq_name       = string
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
  description = "Alarm when a period's sum exceeds: a function's Errors / Throttles, the API's IntegrationError or ExecutionError, the table's throttle events, the records waiting on the DLQ (its maximum); period in seconds (a multiple of 60) and periods evaluated before alarming (1-24)."
  type = object({
    lambda_errors      = optional(number, 0)
    lambda_throttles   = optional(number, 0)
    api_errors         = optional(number, 5)
    dynamodb_throttles = optional(number, 0)
    dlq_depth          = optional(number, 0)
    period_seconds     = optional(number, 300)
    evaluation_periods = optional(number, 1)
  })
  default = {}

  validation {
    condition     = var.thresholds.period_seconds >= 60 && var.thresholds.period_seconds % 60 == 0 && var.thresholds.evaluation_periods >= 1 && var.thresholds.evaluation_periods <= 24
    error_message = "thresholds.period_seconds must be a multiple of 60 and evaluation_periods between 1 and 24."
  }
}

variable "tags" {
  description = "Tags for the topic, key and alarms."
  type        = map(string)
  default     = {}
}
