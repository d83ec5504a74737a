variable "name" {
  description = "Table name (the same in every region once it is a global table)."
  type        = string
}

variable "autoscaling" {
  description = "Provisioned capacity bounds and target utilization (percent) for the table and every GSI, reads and writes (the caller sets the bounds; cooldowns in seconds)."
  type = object({
    read_min           = number
    read_max           = number
    write_min          = number
    write_max          = number
    target_utilization = number
    scale_in_cooldown  = optional(number, 60)
    scale_out_cooldown = optional(number, 30)
  })

  validation {
    condition = (
      var.autoscaling.read_min >= 1 && var.autoscaling.read_max >= var.autoscaling.read_min &&
      var.autoscaling.write_min >= 1 && var.autoscaling.write_max >= var.autoscaling.write_min
    )
    error_message = "Capacity minimums must be >= 1 and maximums >= minimums."
  }

  validation {
    condition     = var.autoscaling.target_utilization >= 20 && var.autoscaling.target_utilization <= 90
    error_message = "target_utilization must be between 20 and 90 (percent)."
  }
}

variable "deletion_protection" {
  description = "Enable DynamoDB deletion protection (on in prod)."
  type        = bool
  default     = true
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the table key can be deleted."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for the table, its key and scaling targets."
  type        = map(string)
  default     = {}
}
