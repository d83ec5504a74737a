variable "name" {
  description = "API name, e.g. `dynamowave-dev`."
  type        = string
}


variable "stage_name" {
  description = "Stage name (the path of the WebSocket URL). The root module validates it."
  type        = string
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







variable "throttling" {
  description = "Stage-wide throttling (both limits non-zero: unset = 0 = every request gets 429) and tighter limits per route key, e.g. sendMessage."
  type = object({
    default = object({ burst_limit = number, rate_limit = number })
    routes  = optional(map(object({ burst_limit = number, rate_limit = number })), {})
  })

  validation {
    condition     = alltrue([for t in concat([var.throttling.default], values(var.throttling.routes)) : t.burst_limit >= 1 && t.rate_limit > 0])
    error_message = "Every throttling burst_limit and rate_limit must be greater than 0."
  }
}

variable "logs" {
  description = "Stage logging: execution logging level (OFF, ERROR, INFO; ERROR/INFO need the account's API Gateway CloudWatch role, see terraform/bootstrap), retention of the access and execution log groups, and the KMS key encrypting them."
  type = object({
    execution_logging_level = string
    retention_in_days       = number
    kms_key_arn             = string
  })
}

variable "custom_domain" {
  description = "Optional custom domain: name, Route 53 zone id for certificate validation, whether to create a plain alias record (false when DNS failover records manage the name) and the ACM validation record (false where another state, the primary's, owns it)."
  type = object({
    domain_name               = string
    zone_id                   = string
    create_alias_record       = optional(bool, true)
    create_validation_records = optional(bool, true)
  })
  default = null
}

variable "tags" {
  description = "Tags for the API, stage, log group, certificate and domain."
  type        = map(string)
  default     = {}
}
