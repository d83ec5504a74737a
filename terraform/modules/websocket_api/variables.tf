variable "name" {
  description = "API name, e.g. `dynamowave-dev`."
  type        = string
}

variable "description" {
  description = "API description."
  type        = string
  default     = "DynamoWave chat WebSocket API"
}

variable "stage_name" {
  description = "Stage name (the path of the WebSocket URL)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name must be 1-128 characters of [a-zA-Z0-9_-]."
  }
}

variable "routes" {
  description = "Route key => target Lambda. Two-way routes get `route_response_selection_expression = \"$default\"` and a `$default` route response."
  type = map(object({
    function_name  = string
    invoke_arn     = string
    two_way        = bool
    operation_name = optional(string)
  }))

  validation {
    condition     = contains(keys(var.routes), "$connect") && contains(keys(var.routes), "$disconnect") && contains(keys(var.routes), "$default")
    error_message = "routes must include $connect, $disconnect and $default."
  }

  validation {
    condition     = !var.routes["$connect"].two_way && !var.routes["$disconnect"].two_way
    error_message = "$connect and $disconnect cannot be two-way routes."
  }
}

variable "authorizer" {
  description = "REQUEST authorizer on $connect (null disables auth). WebSocket identity sources use `route.request.querystring.X` / `route.request.header.X`."
  type = object({
    function_name    = string
    invoke_arn       = string
    identity_sources = optional(list(string), ["route.request.querystring.token"])
  })
  default = null

  validation {
    condition     = var.authorizer == null || alltrue([for s in try(var.authorizer.identity_sources, []) : can(regex("^route\\.request\\.(querystring|header)\\.[A-Za-z0-9_-]+$", s))])
    error_message = "identity_sources must be route.request.querystring.NAME or route.request.header.NAME."
  }
}

variable "integration_timeout_milliseconds" {
  description = "Integration timeout (50-29000 ms)."
  type        = number
  default     = 29000

  validation {
    condition     = var.integration_timeout_milliseconds >= 50 && var.integration_timeout_milliseconds <= 29000
    error_message = "integration_timeout_milliseconds must be between 50 and 29000."
  }
}

variable "default_throttling" {
  description = "Stage-wide throttling. Both must be set and non-zero (unset = 0 = every request gets 429)."
  type = object({
    burst_limit = number
    rate_limit  = number
  })

  validation {
    condition     = var.default_throttling.burst_limit >= 1 && var.default_throttling.rate_limit > 0
    error_message = "default_throttling burst_limit and rate_limit must both be greater than 0."
  }
}

variable "route_throttling" {
  description = "Per-route throttling (route key => limits), e.g. tighter limits for sendMessage."
  type = map(object({
    burst_limit = number
    rate_limit  = number
  }))
  default = {}

  validation {
    condition     = alltrue([for r in values(var.route_throttling) : r.burst_limit >= 1 && r.rate_limit > 0])
    error_message = "route_throttling limits must be greater than 0."
  }
}

variable "execution_logging_level" {
  description = "Execution logging level. ERROR/INFO need the account-level API Gateway CloudWatch role (see the deploy guide)."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "execution_logging_level must be OFF, ERROR or INFO."
  }
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

variable "custom_domain" {
  description = "Optional custom domain: name, Route 53 zone id for certificate validation, and whether to create a plain alias record (false when DNS failover records manage the name)."
  type = object({
    domain_name         = string
    zone_id             = string
    create_alias_record = optional(bool, true)
  })
  default = null
}

variable "tags" {
  description = "Tags for the API, stage, log group, certificate and domain."
  type        = map(string)
  default     = {}
}
