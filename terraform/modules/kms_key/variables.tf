variable "alias" {
  description = "Key alias without the `alias/` prefix, e.g. `dynamowave-dev-table`."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]+$", var.alias)) && !startswith(var.alias, "aws/")
    error_message = "The alias may contain only letters, digits, '/', '_' and '-', and must not start with 'aws/'."
  }
}

variable "region" {
  description = "Region of the key (null: the provider's region). Set for keys that live in another region than the rest of the stack, e.g. a global-table replica's key."
  type        = string
  default     = null
}

variable "description" {
  description = "What the key protects."
  type        = string
}

variable "via_services" {
  description = "AWS service names (e.g. `dynamodb`, `sqs`, `ssm`, `sns`) through which principals of this account may use the key (`kms:ViaService` = `<service>.<region>.amazonaws.com`). Callers also need an IAM permission."
  type        = list(string)
  default     = []
}

variable "service_principal_statements" {
  description = "Extra key-policy statements for AWS service principals (e.g. CloudWatch Logs, CloudWatch alarms), each with its conditions."
  type = list(object({
    sid      = string
    services = list(string)
    actions  = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion (7-30 days; the provider checks the range)."
  type        = number
  default     = 30
}

variable "rotation_period_in_days" {
  description = "Automatic key rotation period (90-2560 days; the provider checks the range). Rotation is always on."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for the key."
  type        = map(string)
  default     = {}
}
