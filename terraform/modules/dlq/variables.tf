variable "name" {
  description = "Queue name (1-80 characters of [a-zA-Z0-9_-]; also the stem of its key alias)."
  type        = string
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the queue key can be deleted (7-30, checked by ../kms_key)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for the queue and its key."
  type        = map(string)
  default     = {}
}
