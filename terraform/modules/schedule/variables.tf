variable "name" {
  description = "Name of the EventBridge rule (and target id)."
  type        = string
}

variable "function" {
  description = "The Lambda function the schedule invokes: deployed name and ARN (module function outputs)."
  type = object({
    name = string
    arn  = string
  })
}

variable "schedule_expression" {
  description = "EventBridge schedule expression: rate(N unit) or cron(...)."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.schedule_expression))
    error_message = "schedule_expression must be rate(N unit) or cron(...)."
  }
}

variable "enabled" {
  description = "Whether the rule is enabled."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the rule."
  type        = map(string)
  default     = {}
}
