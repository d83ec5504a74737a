variable "name" {
  description = "Queue name."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,80}$", var.name))
    error_message = "Queue names are 1-80 characters of [a-zA-Z0-9_-]."
  }
}

variable "message_retention_seconds" {
  description = "How long undelivered records stay on the queue (default and maximum: 14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the queue key can be deleted."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for the queue and its key."
  type        = map(string)
  default     = {}
}
