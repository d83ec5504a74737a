variable "name" {
  description = "Deployed function name, e.g. `dynamowave-dev-connect` (also the log group and role name stem)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,45}$", var.name))
    error_message = "Function names here are 1-45 characters of [a-zA-Z0-9_-] (the role name appends the region)."
  }
}

variable "description" {
  description = "Function description."
  type        = string
  default     = ""
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

variable "runtime" {
  description = "Lambda runtime (a current Python runtime)."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.12", "python3.13", "python3.14"], var.runtime)
    error_message = "runtime must be python3.12, python3.13 or python3.14."
  }
}

variable "architecture" {
  description = "Instruction set architecture."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory in MB (128-10240)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240."
  }
}

variable "timeout" {
  description = "Timeout in seconds (1-900; API Gateway gives integrations 29 s)."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency: a floor and a cap for this function. The account must keep at least 100 unreserved."
  type        = number

  validation {
    condition     = var.reserved_concurrent_executions >= 1 && var.reserved_concurrent_executions <= 3000 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be a whole number between 1 and 3000 (0 would disable the function)."
  }
}

variable "environment" {
  description = "Environment variables (never secrets). LOG_LEVEL is added from var.log_level."
  type        = map(string)
  default     = {}
}

variable "log_level" {
  description = "Application log level (LOG_LEVEL and the Lambda logging config)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARN or ERROR."
  }
}

variable "log_retention_in_days" {
  description = "Log group retention in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting the log group."
  type        = string
}

variable "tracing_mode" {
  description = "X-Ray tracing mode."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "policy_statements" {
  description = "The only IAM statements the role gets (besides its own log group and X-Ray). Scope resources to exact ARNs."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []

  validation {
    condition = alltrue([
      for s in var.policy_statements : alltrue([for a in s.actions : a != "*" && !endswith(a, ":*")])
    ])
    error_message = "Wildcard actions (\"*\" or \"service:*\") are not allowed: list the actions."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary for the role."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the function, its role and log group."
  type        = map(string)
  default     = {}
}
