variable "name" {
  description = "Name stem for tags and the default set identifier, e.g. `dynamowave-prod-eu-west-1`."
  type        = string
}

variable "record" {
  description = "This region's failover record: the shared custom domain both regions serve, the Route 53 hosted zone holding it, PRIMARY or SECONDARY, and the set identifier (null: `<name>-primary` / `<name>-secondary`). The root module validates the name and zone id; the provider the failover type."
  type = object({
    domain_name    = string
    zone_id        = string
    failover_role  = string
    set_identifier = optional(string)
  })
}

variable "target" {
  description = "This region's custom-domain target (websocket_api output domain_target): regional target name and its hosted zone id."
  type = object({
    target_name    = string
    hosted_zone_id = string
  })
}

variable "health_check" {
  description = "The HTTPS health check: this region's own health hostname (never the failover name) and path; seconds between checks from each checker (30 standard, 10 fast) x consecutive failures before the status changes (1-10) = detection time; latency metrics (fixed at creation); checker regions (null: Route 53's default set)."
  type = object({
    fqdn              = string
    path              = optional(string, "/health")
    request_interval  = optional(number, 30)
    failure_threshold = optional(number, 3)
    measure_latency   = optional(bool, false)
    regions           = optional(list(string))
  })

  validation {
    condition     = startswith(var.health_check.path, "/") && !startswith(var.health_check.fqdn, "https://")
    error_message = "health_check.fqdn is a bare hostname and health_check.path starts with /."
  }
}

variable "alarm" {
  description = "Optional CloudWatch alarm (in this region) combined with the HTTPS check through a CALCULATED check: the record is healthy only when both are. insufficient_data_health_status: Healthy, Unhealthy or LastKnownStatus (checked by the provider)."
  type = object({
    name                            = string
    region                          = string
    insufficient_data_health_status = optional(string, "LastKnownStatus")
  })
  default = null
}

variable "tags" {
  description = "Tags for the health checks."
  type        = map(string)
  default     = {}
}
