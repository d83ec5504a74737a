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
  description = "EventBridge schedule expression: rate(N unit) or cron(...) (the root module validates it)."
  type        = string
  default     = "rate(5 minutes)"
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
