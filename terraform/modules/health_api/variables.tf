variable "name" {
  description = "HTTP API name, e.g. `dynamowave-dev-health`."
  type        = string
}






variable "function" {
  description = "The `health` Lambda function: name (for the invoke permission) and invoke ARN (payload format 2.0)."
  type = object({
    name       = string
    invoke_arn = string
  })
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




variable "logs" {
  description = "Access log group: name (inside the logs key's encryption-context condition, e.g. `/aws/apigateway/<prefix>/health`), retention in days and KMS key ARN."
  type = object({
    group_name        = string
    retention_in_days = number
    kms_key_arn       = string
  })
}

variable "tags" {
  description = "Tags for the API, stage and log group."
  type        = map(string)
  default     = {}
}
