variable "name_prefix" {
  description = "Prefix of the topic, key alias and API alarm names, e.g. `dynamowave-dev`."
  type        = string
}

variable "function_names" {
  description = "Deployed Lambda function names to alarm on (Errors, Throttles)."
  type        = list(string)
}

variable "api_id" {
  description = "WebSocket API id."
  type        = string
}

variable "stage_name" {
  description = "WebSocket API stage."
  type        = string
}

variable "table_name" {
  description = "DynamoDB table name."
  type        = string
}

variable "dlq_name" {
  description = "Delivery DLQ name."
  type        = string
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

variable "period_seconds" {
  description = "Alarm period in seconds (a multiple of 60)."
  type        = number
  default     = 300

  validation {
    condition     = var.period_seconds >= 60 && var.period_seconds % 60 == 0
    error_message = "period_seconds must be a multiple of 60."
  }
}

variable "evaluation_periods" {
  description = "Periods evaluated before alarming."
  type        = number
  default     = 1

  validation {
    condition     = var.evaluation_periods >= 1 && var.evaluation_periods <= 24
    error_message = "evaluation_periods must be between 1 and 24."
  }
}

variable "lambda_errors_threshold" {
  description = "Alarm when a function's Errors sum exceeds this per period."
  type        = number
  default     = 0
}

variable "lambda_throttles_threshold" {
  description = "Alarm when a function's Throttles sum exceeds this per period."
  type        = number
  default     = 0
}

variable "api_errors_threshold" {
  description = "Alarm when IntegrationError or ExecutionError exceeds this per period."
  type        = number
  default     = 5
}

variable "dynamodb_throttles_threshold" {
  description = "Alarm when read or write throttle events exceed this per period."
  type        = number
  default     = 0
}

variable "dlq_depth_threshold" {
  description = "Alarm when more than this many records wait on the DLQ."
  type        = number
  default     = 0
}

variable "tags" {
  description = "Tags for the topic, key and alarms."
  type        = map(string)
  default     = {}
}
