variable "name" {
  description = "Deployed function name, e.g. `dynamowave-dev-connect` (also the log group and role name stem)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,45}$", var.name))
    error_message = "Function names here are 1-45 characters of [a-zA-Z0-9_-] (the role name appends the region)."
  }
}

variable "package" {
  description = "The function's entry in dist/manifest.json: absolute zip path, handler string and base64 SHA-256 (Lambda CodeSha256)."
  type = object({
    zip_path = string
    handler  = string
    sha256   = string
  })

  validation {
    condition     = endswith(var.package.zip_path, ".zip") && can(regex("^[A-Za-z0-9+/]{43}=$", var.package.sha256))
    error_message = "package.zip_path must be a .zip and package.sha256 a base64 SHA-256 (44 characters)."
  }
}

variable "spec" {
  description = "What this function runs with and may do: description, memory (MB), timeout (s), reserved concurrency (a floor and a cap; null = unreserved), environment (never secrets; LOG_LEVEL is added) and the only IAM statements its role gets besides its own log group and X-Ray (resources scoped to exact ARNs)."
  type = object({
    description          = optional(string, "")
    memory_size          = number
    timeout              = number
    reserved_concurrency = optional(number)
    environment          = optional(map(string), {})
    policy_statements = optional(list(object({
      sid       = string
      actions   = list(string)
      resources = list(string)
      conditions = optional(list(object({
        test     = string
        variable = string
        values   = list(string)
      })), [])
    })), [])
  })

  validation {
    condition     = var.spec.memory_size >= 128 && var.spec.memory_size <= 10240 && var.spec.timeout >= 1 && var.spec.timeout <= 900
    error_message = "memory_size must be 128-10240 MB and timeout 1-900 s."
  }

  validation {
    condition     = var.spec.reserved_concurrency == null || try(var.spec.reserved_concurrency >= 1 && var.spec.reserved_concurrency <= 3000 && floor(var.spec.reserved_concurrency) == var.spec.reserved_concurrency, false)
    error_message = "reserved_concurrency must be null (unreserved) or a whole number between 1 and 3000 (0 would disable the function)."
  }

  validation {
    condition     = alltrue(flatten([for s in var.spec.policy_statements : [for a in s.actions : a != "*" && !endswith(a, ":*")]]))
    error_message = "Wildcard actions (\"*\" or \"service:*\") are not allowed: list the actions."
  }
}

variable "platform" {
  description = "What every function of the stack shares: runtime and architecture (from the manifest), log level, X-Ray tracing mode, log retention and the KMS key of the log group, an optional permissions boundary, layer version ARNs (e.g. Powertools, at most 5), environment variables of every function (the function's own spec.environment wins), and tags. The root module validates the enums; the provider checks them again."
  type = object({
    runtime                  = string
    architecture             = string
    log_level                = string
    tracing_mode             = string
    log_retention_in_days    = number
    log_kms_key_arn          = string
    permissions_boundary_arn = optional(string)
    layers                   = optional(list(string), [])
    environment              = optional(map(string), {})
    tags                     = optional(map(string), {})
  })

  validation {
    condition     = length(var.platform.layers) <= 5
    error_message = "A function takes at most 5 layers."
  }
}
