variable "name" {
  description = "Queue name (1-80 characters of [a-zA-Z0-9_-]; also the stem of its key alias)."
  type        = string
}

variable "timing" {
  description = "Seconds: delay before a new message can first be received (0-900), visibility timeout after each receive (0-43200; a Lambda event source needs at least 6 x the function's timeout) and retention (60-1209600). The defaults suit a dead-letter queue: no delay, SQS's 30 s visibility, 14 days (the maximum) to replay. The provider checks the ranges at plan time."
  type = object({
    delay_seconds              = optional(number, 0)
    visibility_timeout_seconds = optional(number, 30)
    message_retention_seconds  = optional(number, 1209600)
  })
  default = {}
}

variable "redrive" {
  description = "Dead-letter queue of this queue (null: none): its ARN, and how many receives a message gets (1-1000) before SQS moves it there."
  type = object({
    dead_letter_queue_arn = string
    max_receive_count     = number
  })
  default = null

  validation {
    condition     = var.redrive == null || try(var.redrive.max_receive_count >= 1 && var.redrive.max_receive_count <= 1000 && floor(var.redrive.max_receive_count) == var.redrive.max_receive_count, false)
    error_message = "redrive.max_receive_count must be a whole number between 1 and 1000."
  }
}

variable "redrive_sources" {
  description = "When this queue is a dead-letter queue: the ARNs of the only source queues allowed to redrive into it (redrivePermission byQueue, 1-10 queues). null keeps SQS's default, any queue of the account."
  type        = list(string)
  default     = null

  validation {
    condition     = var.redrive_sources == null || try(length(var.redrive_sources) >= 1 && length(var.redrive_sources) <= 10, false)
    error_message = "redrive_sources must be null or list 1-10 source queue ARNs."
  }
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
