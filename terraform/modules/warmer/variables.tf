variable "name" {
  description = "Deployed name of the warmer function (also the rule name)."
  type        = string
}

variable "targets" {
  description = "Functions to keep warm: key => deployed name, ARN and N concurrent invocations per run."
  type = map(object({
    function_name = string
    arn           = string
    concurrency   = number
  }))

  validation {
    condition     = length(var.targets) > 0
    error_message = "targets must name at least one function."
  }

  validation {
    condition     = alltrue([for t in values(var.targets) : t.concurrency >= 1 && t.concurrency <= 50 && floor(t.concurrency) == t.concurrency])
    error_message = "Each target's concurrency must be a whole number between 1 and 50."
  }
}

variable "schedule_expression" {
  description = "EventBridge schedule."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.schedule_expression))
    error_message = "schedule_expression must be rate(N unit) or cron(...)."
  }
}

variable "enabled" {
  description = "Whether the schedule is enabled."
  type        = bool
  default     = true
}

variable "package" {
  description = "The warmer's entry in dist/manifest.json (zip path, handler, base64 SHA-256)."
  type = object({
    zip_path = string
    handler  = string
    sha256   = string
  })
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.13"
}

variable "architecture" {
  description = "Instruction set architecture."
  type        = string
  default     = "arm64"
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout in seconds (the warmer waits for its synchronous invocations)."
  type        = number
  default     = 30
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the warmer."
  type        = number
  default     = 1
}

variable "log_level" {
  description = "Application log level."
  type        = string
  default     = "INFO"
}

variable "log_retention_in_days" {
  description = "Log retention in days."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "KMS key ARN for the warmer's log group."
  type        = string
}

variable "tracing_mode" {
  description = "X-Ray tracing mode."
  type        = string
  default     = "Active"
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary for the warmer role."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the rule and the function."
  type        = map(string)
  default     = {}
}
