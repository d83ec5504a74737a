variable "name" {
  description = "Name stem for tags and the default set identifier, e.g. `dynamowave-prod-eu-west-1`."
  type        = string
}

variable "domain_name" {
  description = "The shared custom domain both regions serve, e.g. `chat.example.com`."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name such as chat.example.com."
  }
}

variable "zone_id" {
  description = "Route 53 hosted zone id holding the failover records."
  type        = string

  validation {
    condition     = can(regex("^Z[A-Z0-9]{1,31}$", var.zone_id))
    error_message = "zone_id must be a Route 53 hosted zone id (Z...)."
  }
}

variable "failover_role" {
  description = "PRIMARY or SECONDARY: which failover record this region's apply owns."
  type        = string

  validation {
    condition     = contains(["PRIMARY", "SECONDARY"], var.failover_role)
    error_message = "failover_role must be PRIMARY or SECONDARY."
  }
}

variable "set_identifier" {
  description = "Set identifier of the failover record (null: `<name>-primary` / `<name>-secondary`)."
  type        = string
  default     = null
}

variable "target" {
  description = "This region's custom-domain target (websocket_api output domain_target): regional target name and its hosted zone id."
  type = object({
    target_name    = string
    hosted_zone_id = string
  })
}

variable "health_check" {
  description = "Where the HTTPS health check probes: this region's own health hostname (never the failover name) and path."
  type = object({
    fqdn = string
    path = optional(string, "/health")
  })

  validation {
    condition     = startswith(var.health_check.path, "/") && !startswith(var.health_check.fqdn, "https://")
    error_message = "health_check.fqdn is a bare hostname and health_check.path starts with /."
  }
}

variable "request_interval" {
  description = "Seconds between checks from each checker: 30 (standard) or 10 (fast, extra cost). Detection time is about request_interval x failure_threshold."
  type        = number
  default     = 30

  validation {
    condition     = contains([10, 30], var.request_interval)
    error_message = "request_interval must be 10 or 30."
  }
}

variable "failure_threshold" {
  description = "Consecutive failed (or successful) checks before the status changes (1-10)."
  type        = number
  default     = 3

  validation {
    condition     = var.failure_threshold >= 1 && var.failure_threshold <= 10 && floor(var.failure_threshold) == var.failure_threshold
    error_message = "failure_threshold must be a whole number between 1 and 10."
  }
}

variable "measure_latency" {
  description = "Publish latency metrics of the HTTPS check to CloudWatch (cannot be changed after creation)."
  type        = bool
  default     = false
}

variable "checker_regions" {
  description = "Route 53 checker regions (null: Route 53's default set; at least 3 when set)."
  type        = list(string)
  default     = null

  validation {
    condition = var.checker_regions == null || (length(coalesce(var.checker_regions, [])) >= 3 && alltrue([
      for r in coalesce(var.checker_regions, []) : contains(["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"], r)
    ]))
    error_message = "checker_regions must be null or at least 3 of us-east-1, us-west-1, us-west-2, eu-west-1, ap-southeast-1, ap-southeast-2, ap-northeast-1, sa-east-1."
  }
}

variable "alarm" {
  description = "Optional CloudWatch alarm (in this region) combined with the HTTPS check through a CALCULATED check: the record is healthy only when both are."
  type = object({
    name                            = string
    region                          = string
    insufficient_data_health_status = optional(string, "LastKnownStatus")
  })
  default = null

  validation {
    condition     = var.alarm == null || contains(["Healthy", "Unhealthy", "LastKnownStatus"], try(var.alarm.insufficient_data_health_status, "Healthy"))
    error_message = "alarm.insufficient_data_health_status must be Healthy, Unhealthy or LastKnownStatus."
  }
}

variable "tags" {
  description = "Tags for the health checks."
  type        = map(string)
  default     = {}
}
