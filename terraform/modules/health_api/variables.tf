variable "name" {
  description = "HTTP API name, e.g. `dynamowave-dev-health`."
  type        = string
}

variable "description" {
  description = "API description."
  type        = string
  default     = "DynamoWave health endpoint (Route 53 health checks)"
}

variable "path" {
  description = "Path of the health route (GET)."
  type        = string
  default     = "/health"

  validation {
    condition     = can(regex("^/[A-Za-z0-9/_-]*$", var.path))
    error_message = "path must start with / and contain only letters, digits, '/', '_' and '-'."
  }
}

variable "function_name" {
  description = "Name of the `health` Lambda function (for the invoke permission)."
  type        = string
}

variable "invoke_arn" {
  description = "Invoke ARN of the `health` Lambda function (payload format 2.0)."
  type        = string
}

variable "integration_timeout_milliseconds" {
  description = "Integration timeout (50-30000 ms). Route 53 counts a check as failed when the response takes longer than about 2 s after connecting, so a slow table fails over anyway."
  type        = number
  default     = 5000

  validation {
    condition     = var.integration_timeout_milliseconds >= 50 && var.integration_timeout_milliseconds <= 30000
    error_message = "integration_timeout_milliseconds must be between 50 and 30000."
  }
}

variable "throttling" {
  description = "Stage throttling. Both must be non-zero (unset = 0 = every request gets 429)."
  type = object({
    burst_limit = number
    rate_limit  = number
  })
  default = {
    burst_limit = 20
    rate_limit  = 10
  }

  validation {
    condition     = var.throttling.burst_limit >= 1 && var.throttling.rate_limit > 0
    error_message = "throttling burst_limit and rate_limit must both be greater than 0."
  }
}

variable "log_group_name" {
  description = "Access log group name (must match the log key's encryption-context condition, e.g. `/aws/apigateway/<prefix>/health`)."
  type        = string
}

variable "log_retention_in_days" {
  description = "Access log retention in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting the access log group."
  type        = string
}

variable "tags" {
  description = "Tags for the API, stage and log group."
  type        = map(string)
  default     = {}
}
