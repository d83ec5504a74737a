variable "region" {
  description = "AWS region this apply deploys (one region per state)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-1."
  }
}

variable "environment" {
  description = "Environment name; must equal the Terraform workspace (make selects it)."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "project" {
  description = "Name prefix of every resource."
  type        = string
  default     = "dynamowave"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2-21 lowercase letters, digits or '-'."
  }
}

variable "allowed_account_ids" {
  description = "Optional guard: the AWS account ids this environment may be applied to."
  type        = list(string)
  default     = null
}

variable "primary_region" {
  description = "Region whose apply owns the table (and, with two regions, the global table and its replica)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.primary_region))
    error_message = "primary_region must look like eu-west-1."
  }
}

variable "secondary_region" {
  description = "Failover region (null while the stack runs in one region). The primary's apply creates the table's replica there; apply the primary first."
  type        = string
  default     = null

  validation {
    condition     = var.secondary_region == null || can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", coalesce(var.secondary_region, "x")))
    error_message = "secondary_region must look like eu-central-1 (or null)."
  }
}

variable "failover_role" {
  description = "PRIMARY or SECONDARY; null derives it from region == primary_region."
  type        = string
  default     = null

  validation {
    condition     = var.failover_role == null || contains(["PRIMARY", "SECONDARY"], coalesce(var.failover_role, "PRIMARY"))
    error_message = "failover_role must be PRIMARY, SECONDARY or null."
  }
}

variable "manifest_path" {
  description = "Path of dist/manifest.json written by build.py (null: ../dist/manifest.json from this folder)."
  type        = string
  default     = null
}

variable "stage_name" {
  description = "WebSocket stage name (null: the environment name)."
  type        = string
  default     = null
}

variable "app_version" {
  description = "Version reported by /health and ping (APP_VERSION)."
  type        = string
  default     = "0.1.0"
}

variable "log_level" {
  description = "Log level of every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARN or ERROR."
  }
}

variable "log_retention_in_days" {
  description = "Retention of every log group (functions and API access logs)."
  type        = number
  default     = 30
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of the functions."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before a scheduled KMS key deletion (7-30)."
  type        = number
  default     = 30
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection (must be true in prod)."
  type        = bool
  default     = true
}

variable "table_autoscaling" {
  description = "Table (and GSI) provisioned capacity bounds and target utilization."
  type = object({
    read_min           = optional(number, 5)
    read_max           = optional(number, 100)
    write_min          = optional(number, 5)
    write_max          = optional(number, 100)
    target_utilization = optional(number, 70)
  })
  default = {}
}

variable "functions" {
  description = "Per-function overrides of memory (MB), timeout (s) and reserved concurrency, keyed by manifest function name."
  type = map(object({
    memory_size          = optional(number)
    timeout              = optional(number)
    reserved_concurrency = optional(number)
  }))
  default = {}

  validation {
    condition = alltrue([for k in keys(var.functions) : contains([
      "connect", "disconnect", "default", "ping", "send_message", "rooms", "authorizer", "fanout", "health", "warmer"
    ], k)])
    error_message = "functions keys must be manifest function names (connect, disconnect, default, ping, send_message, rooms, authorizer, fanout, health, warmer)."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : f.reserved_concurrency == null || try(f.reserved_concurrency >= 1, false)])
    error_message = "reserved_concurrency must be at least 1 (0 disables a function)."
  }
}

variable "connection_ttl_seconds" {
  description = "Connection and membership TTL (CONNECTION_TTL_SECONDS; 2 h maximum connection + slack)."
  type        = number
  default     = 7500

  validation {
    condition     = var.connection_ttl_seconds >= 7200 && var.connection_ttl_seconds <= 86400
    error_message = "connection_ttl_seconds must be between 7200 (the 2-hour connection limit) and 86400."
  }
}

variable "fanout_concurrency" {
  description = "Parallel @connections posts per delivery (FANOUT_CONCURRENCY)."
  type        = number
  default     = 16

  validation {
    condition     = var.fanout_concurrency >= 1 && var.fanout_concurrency <= 64
    error_message = "fanout_concurrency must be between 1 and 64."
  }
}

variable "delivery_budget_ms" {
  description = "Retry time budget per delivery in ms (DELIVERY_BUDGET_MS)."
  type        = number
  default     = 5000

  validation {
    condition     = var.delivery_budget_ms >= 100 && var.delivery_budget_ms <= 25000
    error_message = "delivery_budget_ms must be between 100 and 25000 (below the 29 s integration timeout)."
  }
}

variable "auth_enabled" {
  description = "Attach the REQUEST authorizer to $connect (required in prod)."
  type        = bool
  default     = true
}

variable "auth_issuer" {
  description = "Expected `iss` claim of tokens (AUTH_ISSUER)."
  type        = string
  default     = "dynamowave"
}

variable "auth_secret_version" {
  description = "Bump to write a new random HS256 secret to the SSM parameter (write-only; tokens signed with the old one stop working)."
  type        = number
  default     = 1

  validation {
    condition     = var.auth_secret_version >= 1 && floor(var.auth_secret_version) == var.auth_secret_version
    error_message = "auth_secret_version must be a whole number >= 1."
  }
}

variable "default_throttling" {
  description = "Stage-wide WebSocket throttling (both set and non-zero, else every request gets 429)."
  type = object({
    burst_limit = number
    rate_limit  = number
  })
  default = {
    burst_limit = 500
    rate_limit  = 1000
  }
}

variable "send_message_throttling" {
  description = "Tighter throttling for the sendMessage route."
  type = object({
    burst_limit = number
    rate_limit  = number
  })
  default = {
    burst_limit = 200
    rate_limit  = 400
  }
}

variable "execution_logging_level" {
  description = "API Gateway execution logging (OFF, ERROR, INFO)."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "manage_apigateway_account" {
  description = "Create the account-level API Gateway CloudWatch Logs role for this region (WebSocket stage logging needs it). Exactly one state per account and region may manage it."
  type        = bool
  default     = false
}

variable "warm_targets" {
  description = "Functions the warmer keeps warm => N concurrent invocations per run (N <= the target's reserved concurrency)."
  type        = map(number)
  default = {
    connect      = 2
    authorizer   = 2
    send_message = 2
    rooms        = 1
    ping         = 1
  }

  validation {
    condition     = alltrue([for k, n in var.warm_targets : contains(["connect", "disconnect", "default", "ping", "send_message", "rooms", "authorizer", "health"], k) && n >= 1 && n <= 50])
    error_message = "warm_targets keys must be API-facing function names (not fanout or warmer) and N between 1 and 50."
  }
}

variable "warmer_schedule" {
  description = "EventBridge schedule of the warmer."
  type        = string
  default     = "rate(5 minutes)"
}

variable "warmer_enabled" {
  description = "Whether the warmer schedule is enabled."
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Custom domain clients connect to, e.g. chat.example.com (\"\" = none: clients use the execute-api URLs and DNS failover is off). With secondary_region set it is the failover name served by both regions."
  type        = string
  default     = ""

  validation {
    condition     = var.domain_name == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be empty or a lowercase DNS name such as chat.example.com."
  }
}

variable "hosted_zone_id" {
  description = "Route 53 public hosted zone of domain_name (ACM validation records and the failover records); \"\" when domain_name is empty."
  type        = string
  default     = ""

  validation {
    condition     = var.hosted_zone_id == "" || can(regex("^Z[A-Z0-9]{1,31}$", var.hosted_zone_id))
    error_message = "hosted_zone_id must be empty or a Route 53 hosted zone id (Z...)."
  }
}

variable "health_check_request_interval" {
  description = "Route 53 health check interval in seconds: 30 (standard) or 10 (fast, extra cost). Detection takes about interval x failure_threshold."
  type        = number
  default     = 30

  validation {
    condition     = contains([10, 30], var.health_check_request_interval)
    error_message = "health_check_request_interval must be 10 or 30."
  }
}

variable "health_check_failure_threshold" {
  description = "Consecutive failed (or successful) health checks before Route 53 changes a region's status (1-10)."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_failure_threshold >= 1 && var.health_check_failure_threshold <= 10 && floor(var.health_check_failure_threshold) == var.health_check_failure_threshold
    error_message = "health_check_failure_threshold must be a whole number between 1 and 10."
  }
}

variable "health_check_measure_latency" {
  description = "Publish the health check's latency metrics (cannot be changed after creation)."
  type        = bool
  default     = false
}

variable "health_check_regions" {
  description = "Route 53 checker regions (null: Route 53's default set; at least 3 when set)."
  type        = list(string)
  default     = null
}

variable "health_check_alarm" {
  description = "Key of this region's WebSocket API alarm (integration-errors or execution-errors) to combine with the HTTPS /health check (CALCULATED: both must be healthy); null = HTTPS check only."
  type        = string
  default     = null

  validation {
    condition     = var.health_check_alarm == null || contains(["integration-errors", "execution-errors"], coalesce(var.health_check_alarm, "integration-errors"))
    error_message = "health_check_alarm must be null, integration-errors or execution-errors."
  }
}

variable "health_api_throttling" {
  description = "Throttling of the /health HTTP API stage (both non-zero)."
  type = object({
    burst_limit = number
    rate_limit  = number
  })
  default = {
    burst_limit = 20
    rate_limit  = 10
  }
}

variable "fanout_stream" {
  description = "Event source mapping of the fan-out function on this region's table stream: batch size, batching window (s), parallelization, and bounded retries / record age (a chat message older than that is no longer delivered live; history still has it)."
  type = object({
    batch_size                    = optional(number, 100)
    batching_window_seconds       = optional(number, 0)
    parallelization_factor        = optional(number, 1)
    maximum_retry_attempts        = optional(number, 3)
    maximum_record_age_in_seconds = optional(number, 600)
  })
  default = {}

  validation {
    condition     = var.fanout_stream.batch_size >= 1 && var.fanout_stream.batch_size <= 1000 && var.fanout_stream.batching_window_seconds >= 0 && var.fanout_stream.batching_window_seconds <= 300
    error_message = "fanout_stream.batch_size must be 1-1000 and batching_window_seconds 0-300."
  }

  validation {
    condition     = var.fanout_stream.parallelization_factor >= 1 && var.fanout_stream.parallelization_factor <= 10
    error_message = "fanout_stream.parallelization_factor must be 1-10."
  }

  validation {
    condition     = var.fanout_stream.maximum_retry_attempts >= 0 && var.fanout_stream.maximum_retry_attempts <= 10
    error_message = "fanout_stream.maximum_retry_attempts must be bounded: 0-10 (never -1, infinite)."
  }

  validation {
    condition     = var.fanout_stream.maximum_record_age_in_seconds >= 60 && var.fanout_stream.maximum_record_age_in_seconds <= 86400
    error_message = "fanout_stream.maximum_record_age_in_seconds must be bounded: 60-86400 (never -1, infinite)."
  }
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags on every resource (merged with Project/Environment/Region/ManagedBy)."
  type        = map(string)
  default     = {}
}
