variable "region" {
  description = "AWS region this apply deploys (one region per state): primary_region or secondary_region."
  type        = string

  validation {
    condition     = contains(compact([var.primary_region, var.secondary_region]), var.region)
    error_message = "region ${var.region} is neither primary_region nor secondary_region of this environment."
  }
}

variable "primary_region" {
  description = "Region whose apply owns the table (and, with two regions, the global table and its replica)."
  type        = string

  validation {
    condition     = can(regex(local.region_pattern, var.primary_region))
    error_message = "primary_region must look like eu-west-1."
  }
}

variable "secondary_region" {
  description = "Failover region (null while the stack runs in one region). The primary's apply creates the table's replica there; apply the primary first."
  type        = string
  default     = null

  validation {
    condition     = var.secondary_region == null || can(regex(local.region_pattern, var.secondary_region)) && var.secondary_region != var.primary_region
    error_message = "secondary_region must be null or a region like eu-central-1 that differs from primary_region."
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

  validation {
    condition     = var.stage_name == null || can(regex("^[a-zA-Z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name must be null or 1-128 characters of [a-zA-Z0-9_-]."
  }
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

variable "tracing_mode" {
  description = "X-Ray tracing mode of the functions."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "log_retention_in_days" {
  description = "Retention of every log group (functions, API access and execution logs)."
  type        = number
  default     = 30

  validation {
    condition     = contains(local.log_retention_days, var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of the values CloudWatch Logs accepts: ${join(", ", local.log_retention_days)}."
  }
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before a scheduled KMS key deletion (7-30; checked by modules/kms_key)."
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
  description = "Per-function overrides of memory (MB), timeout (s), reserved concurrency (null = unreserved, the default), p99_ms (expected p99 duration: sizes the reservation, see terraform/README.md) and warm_instances (concurrent warm-up invocations per warmer run, 0-50; 0 = not warmed), keyed by manifest function name (dist/manifest.json)."
  type = map(object({
    memory_size          = optional(number)
    timeout              = optional(number)
    reserved_concurrency = optional(number)
    p99_ms               = optional(number)
    warm_instances       = optional(number)
  }))
  default = {}

  validation {
    condition     = length(setsubtract(keys(var.functions), keys(local.manifest.functions))) == 0
    error_message = "functions keys must be manifest function names: ${join(", ", sort(keys(local.manifest.functions)))}."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : f.reserved_concurrency == null || try(f.reserved_concurrency >= 1, false)])
    error_message = "reserved_concurrency must be at least 1 (0 disables a function)."
  }

  validation {
    condition     = alltrue([for k, f in var.functions : f.warm_instances == null || try(f.warm_instances == 0 || contains(local.warmable_functions, k) && f.warm_instances <= 50 && floor(f.warm_instances) == f.warm_instances, false)])
    error_message = "warm_instances must be 0-50, and above 0 only for functions the warmer can invoke: ${join(", ", local.warmable_functions)}."
  }
}

variable "auth_mode" {
  description = "Identity on $connect: none (no authorizer; dev only), oidc (tokens of an external OpenID Connect issuer: oidc_issuer_url, oidc_audience) or cognito (Terraform creates a Cognito user pool, app client and hosted-UI domain in the primary region; both regions accept its tokens). prod refuses none."
  type        = string
  default     = "cognito"

  validation {
    condition     = contains(["none", "oidc", "cognito"], var.auth_mode)
    error_message = "auth_mode must be none, oidc or cognito."
  }

  validation {
    condition     = var.environment != "prod" || var.auth_mode != "none"
    error_message = "prod requires auth_mode = oidc or cognito (none leaves $connect open)."
  }
}

variable "oidc_issuer_url" {
  description = "auth_mode = oidc: the issuer (`iss` claim) of accepted tokens, an https:// URL whose /.well-known/openid-configuration names the JWKS (AUTH_ISSUER). Ignored otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.auth_mode != "oidc" || can(regex("^https://[^\\s/]+(/\\S*)?$", coalesce(var.oidc_issuer_url, "-")))
    error_message = "auth_mode = oidc needs oidc_issuer_url, an https:// issuer URL."
  }
}

variable "oidc_audience" {
  description = "auth_mode = oidc: the audience (`aud` claim, usually the client id) accepted tokens carry (AUTH_AUDIENCE). Ignored otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.auth_mode != "oidc" || try(length(trimspace(var.oidc_audience)) > 0, false)
    error_message = "auth_mode = oidc needs a non-empty oidc_audience."
  }
}

variable "oidc_jwks_url" {
  description = "auth_mode = oidc: the JWKS URL (AUTH_JWKS_URL); null = the one the issuer's discovery document names."
  type        = string
  default     = null

  validation {
    condition     = var.oidc_jwks_url == null || can(regex("^https://\\S+$", coalesce(var.oidc_jwks_url, "-")))
    error_message = "oidc_jwks_url must be null or an https:// URL."
  }
}

variable "auth_name_claim" {
  description = "Token claim the display name comes from (AUTH_NAME_CLAIM), e.g. name, email, preferred_username or cognito:username."
  type        = string
  default     = "name"

  validation {
    condition     = can(regex("^[A-Za-z0-9_:.-]{1,64}$", var.auth_name_claim))
    error_message = "auth_name_claim must be 1-64 characters of [A-Za-z0-9_:.-]."
  }
}

variable "auth_token_use" {
  description = "auth_mode = cognito: which Cognito token clients pass in ?token= (AUTH_TOKEN_USE): id (carries the name claim and aud = client id) or access (client_id claim, no profile claims). Ignored otherwise."
  type        = string
  default     = "id"

  validation {
    condition     = contains(["id", "access"], var.auth_token_use)
    error_message = "auth_token_use must be id or access."
  }
}

variable "max_token_lifetime_seconds" {
  description = "Tokens whose exp - iat exceeds this are refused (MAX_TOKEN_LIFETIME_SECONDS, 60-604800). Cognito ID and access tokens live at most cognito.token_validity_minutes."
  type        = number
  default     = 86400

  validation {
    condition     = var.max_token_lifetime_seconds >= 60 && var.max_token_lifetime_seconds <= 604800 && floor(var.max_token_lifetime_seconds) == var.max_token_lifetime_seconds
    error_message = "max_token_lifetime_seconds must be a whole number between 60 and 604800 (7 days)."
  }
}

variable "allowed_origins" {
  description = "Browser origins allowed to open a socket (ALLOWED_ORIGINS of the authorizer and $connect), e.g. https://chat.example.com; [] = no Origin restriction. With auth on, Origin is an identity source of the authorizer: a client that sends no Origin header is refused with 401 before the authorizer runs."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.allowed_origins : can(regex("^(https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?|http://(localhost|127\\.0\\.0\\.1)(:[0-9]{1,5})?)$", o))])
    error_message = "allowed_origins must be origins without a path: https://host[:port], or http://localhost[:port] / http://127.0.0.1[:port] for local development."
  }
}

variable "cognito" {
  description = "auth_mode = cognito: the app client's callback_urls and logout_urls (https://, or http://localhost for development; at least one callback), the hosted-UI domain prefix (null: <project>-<environment>-<account id>, unique per region), ID/access token validity in minutes (5-1440), refresh token validity in days (1-3650) and whether users may sign themselves up."
  type = object({
    callback_urls          = optional(list(string), [])
    logout_urls            = optional(list(string), [])
    domain_prefix          = optional(string)
    token_validity_minutes = optional(number, 60)
    refresh_token_days     = optional(number, 30)
    self_sign_up           = optional(bool, true)
  })
  default = {}

  validation {
    condition     = alltrue([for u in concat(var.cognito.callback_urls, var.cognito.logout_urls) : can(regex("^(https://[^\\s#]+|http://localhost(:[0-9]{1,5})?(/[^\\s#]*)?)$", u))])
    error_message = "cognito.callback_urls and logout_urls must be https:// URLs (or http://localhost[:port]/... for development), without fragments."
  }

  validation {
    condition     = var.auth_mode != "cognito" || length(var.cognito.callback_urls) > 0
    error_message = "auth_mode = cognito needs at least one cognito.callback_urls entry (where the hosted UI returns the authorization code)."
  }

  validation {
    condition     = var.cognito.domain_prefix == null || can(regex(local.domain_label_pattern, coalesce(var.cognito.domain_prefix, "x"))) && !can(regex("aws|amazon|cognito", coalesce(var.cognito.domain_prefix, "x")))
    error_message = "cognito.domain_prefix must be 1-63 lowercase letters, digits or '-' (not at either end) and must not contain aws, amazon or cognito."
  }

  validation {
    condition     = var.cognito.token_validity_minutes >= 5 && var.cognito.token_validity_minutes <= 1440 && var.cognito.refresh_token_days >= 1 && var.cognito.refresh_token_days <= 3650
    error_message = "cognito.token_validity_minutes must be 5-1440 and cognito.refresh_token_days 1-3650."
  }
}

variable "limits" {
  description = "Abuse limits the handlers enforce: send_rate_per_second / send_burst (token bucket per connection on sendMessage; SEND_RATE_PER_SECOND, SEND_BURST), max_rooms_per_connection (MAX_ROOMS_PER_CONNECTION) and max_connections_per_user (MAX_CONNECTIONS_PER_USER, per authenticated user). Ranges: local.ranges.limits."
  type = object({
    send_rate_per_second     = optional(number, 10)
    send_burst               = optional(number, 20)
    max_rooms_per_connection = optional(number, 20)
    max_connections_per_user = optional(number, 10)
  })
  default = {}

  validation {
    condition     = alltrue([for k, r in local.ranges.limits : var.limits[k] >= r[0] && var.limits[k] <= r[1] && floor(var.limits[k]) == var.limits[k]])
    error_message = "limits out of range (whole numbers): ${join(", ", [for k, r in local.ranges.limits : "${k} ${r[0]}-${r[1]}"])}."
  }

  validation {
    condition     = var.limits.send_burst >= var.limits.send_rate_per_second
    error_message = "limits.send_burst must be at least limits.send_rate_per_second (else the bucket never fills to one second of sends)."
  }
}

variable "fanout_sharding" {
  description = "Sharded fan-out: a room with more than shard_threshold members in a region is delivered through the fan-out queue in messages of up to shard_size connection ids (FANOUT_SHARD_THRESHOLD, FANOUT_SHARD_SIZE), consumed by fanout_worker; max_receive_count receives before a shard moves to the fan-out DLQ; the worker's SQS event source mapping: batch size (above 10 needs a batching window of at least 1 s), batching window (s) and maximum concurrent invocations (a reservation of fanout_worker must hold it, capacity.tf). The visibility timeout is 6 x the worker's timeout. Ranges: local.ranges."
  type = object({
    shard_threshold         = optional(number, 1000)
    shard_size              = optional(number, 250)
    max_receive_count       = optional(number, 3)
    batch_size              = optional(number, 1)
    batching_window_seconds = optional(number, 0)
    maximum_concurrency     = optional(number, 20)
  })
  default = {}

  validation {
    condition     = alltrue([for k, r in local.ranges.fanout_sharding : var.fanout_sharding[k] >= r[0] && var.fanout_sharding[k] <= r[1] && floor(var.fanout_sharding[k]) == var.fanout_sharding[k]])
    error_message = "fanout_sharding out of range (whole numbers): ${join(", ", [for k, r in local.ranges.fanout_sharding : "${k} ${r[0]}-${r[1]}"])}."
  }

  validation {
    condition     = var.fanout_sharding.batch_size <= 10 || var.fanout_sharding.batching_window_seconds >= 1
    error_message = "fanout_sharding.batch_size above 10 needs fanout_sharding.batching_window_seconds of at least 1 (an SQS event source mapping rule)."
  }

  validation {
    condition     = var.fanout_sharding.shard_size < var.fanout_sharding.shard_threshold
    error_message = "fanout_sharding.shard_size must be below shard_threshold (a sharded room yields at least two shards)."
  }
}

variable "powertools_layer_version" {
  description = "Version of AWS's public Powertools for AWS Lambda (Python) v3 layer on every function: arn:<partition>:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-<python3NN>-<arch>:<version> (the runtime and architecture come from dist/manifest.json)."
  type        = number
  default     = 27

  validation {
    condition     = var.powertools_layer_version >= 1 && floor(var.powertools_layer_version) == var.powertools_layer_version
    error_message = "powertools_layer_version must be a whole number >= 1."
  }
}

variable "powertools_layer_arn" {
  description = "Full layer version ARN overriding the one built from powertools_layer_version (e.g. a copy in your own account, or a region AWS publishes under another account); null = AWS's public layer."
  type        = string
  default     = null

  validation {
    condition     = var.powertools_layer_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", coalesce(var.powertools_layer_arn, "-")))
    error_message = "powertools_layer_arn must be null or a layer version ARN, arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION."
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

variable "min_unreserved_concurrency" {
  description = "Lambda concurrency that must stay unreserved in the account and region after this stack's reservations (the plan reads the quota from Service Quotas and refuses otherwise)."
  type        = number
  default     = 100
}

variable "route_throttling" {
  description = "Tighter throttling per WebSocket route key (keys from the manifest's routes), e.g. sendMessage."
  type = map(object({
    burst_limit = number
    rate_limit  = number
  }))
  default = {
    sendMessage = { burst_limit = 200, rate_limit = 400 }
  }

  validation {
    condition     = length(setsubtract(keys(var.route_throttling), keys(local.manifest.routes))) == 0
    error_message = "route_throttling keys must be manifest route keys: ${join(", ", sort(keys(local.manifest.routes)))}."
  }
}

variable "execution_logging_level" {
  description = "API Gateway execution logging (OFF, ERROR, INFO). ERROR and INFO need the account's API Gateway CloudWatch role in this region: run `make bootstrap REGION=...` once per account and region."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "warmer" {
  description = "The warmer's EventBridge schedule (rate(N unit) or cron(...)) and whether it is enabled. Which functions it keeps warm, and how many instances of each, is the per-function warm_instances (functions.tf, var.functions)."
  type = object({
    schedule = optional(string, "rate(5 minutes)")
    enabled  = optional(bool, true)
  })
  default = {}

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.warmer.schedule))
    error_message = "warmer.schedule must be rate(N unit) or cron(...)."
  }
}

variable "custom_domain" {
  description = "Custom domain clients connect to (null = none: clients use the execute-api URLs and DNS failover is off): the name, e.g. chat.example.com, and the Route 53 public hosted zone holding it (ACM validation and failover records). With secondary_region set it is the failover name served by both regions."
  type = object({
    name           = string
    hosted_zone_id = string
  })
  default = null

  validation {
    condition     = var.custom_domain == null || can(regex(local.dns_name_pattern, var.custom_domain.name)) && can(regex(local.zone_id_pattern, var.custom_domain.hosted_zone_id))
    error_message = "custom_domain.name must be a lowercase DNS name such as chat.example.com and custom_domain.hosted_zone_id a Route 53 hosted zone id (Z...)."
  }
  validation {
    condition     = var.environment != "prod" || var.secondary_region == null || var.custom_domain != null
    error_message = "prod with a secondary_region needs custom_domain = { name, hosted_zone_id }: without it there are no health checks and no failover records, and clients of the primary never reach the secondary. Set it in env/prod.tfvars (dev may leave it null and use the per-region URLs)."
  }
}

variable "health_check" {
  description = "Route 53 health check of this region's /health (with DNS failover): interval 30 (standard) or 10 s (fast, extra cost) x failure_threshold (1-10) = detection time; latency metrics (fixed at creation); checker regions (null: Route 53's default set; at least 3 when set); alarm = key of an API alarm (integration-errors or execution-errors) combined through a CALCULATED check (null: HTTPS check only)."
  type = object({
    request_interval  = optional(number, 30)
    failure_threshold = optional(number, 3)
    measure_latency   = optional(bool, false)
    regions           = optional(list(string))
    alarm             = optional(string)
  })
  default = {}

  validation {
    condition     = contains([10, 30], var.health_check.request_interval) && contains(range(1, 11), var.health_check.failure_threshold)
    error_message = "health_check.request_interval must be 10 or 30 and failure_threshold a whole number between 1 and 10."
  }

  validation {
    condition     = var.health_check.regions == null || length(coalesce(var.health_check.regions, [])) >= 3
    error_message = "health_check.regions must be null or list at least 3 Route 53 checker regions."
  }

  validation {
    condition     = contains(["integration-errors", "execution-errors", "none"], coalesce(var.health_check.alarm, "none"))
    error_message = "health_check.alarm must be null, integration-errors or execution-errors."
  }
}

variable "app_settings" {
  description = "What the handlers read from their environment: APP_VERSION (reported by /health and ping), CONNECTION_TTL_SECONDS (connection and membership TTL: the 2 h maximum connection + slack), FANOUT_CONCURRENCY (parallel @connections posts per delivery) and DELIVERY_BUDGET_MS (retry time budget per delivery, below the 29 s integration timeout). Ranges: local.ranges."
  type = object({
    app_version            = optional(string, "0.1.0")
    connection_ttl_seconds = optional(number, 7500)
    fanout_concurrency     = optional(number, 64)
    delivery_budget_ms     = optional(number, 5000)
  })
  default = {}

  validation {
    condition     = alltrue([for k, r in local.ranges.app_settings : var.app_settings[k] >= r[0] && var.app_settings[k] <= r[1]])
    error_message = "app_settings out of range: ${join(", ", [for k, r in local.ranges.app_settings : "${k} ${r[0]}-${r[1]}"])}."
  }
}

variable "fanout_stream" {
  description = "Event source mapping of the fan-out function on this region's table stream: batch size, batching window (s), parallelization, and bounded retries / record age (a chat message older than that is no longer delivered live; history still has it). Ranges: local.ranges; retries and record age are never -1 (infinite)."
  type = object({
    batch_size                    = optional(number, 100)
    batching_window_seconds       = optional(number, 0)
    parallelization_factor        = optional(number, 1)
    maximum_retry_attempts        = optional(number, 3)
    maximum_record_age_in_seconds = optional(number, 600)
  })
  default = {}

  validation {
    condition     = alltrue([for k, r in local.ranges.fanout_stream : var.fanout_stream[k] >= r[0] && var.fanout_stream[k] <= r[1]])
    error_message = "fanout_stream out of range (retries and record age must be bounded): ${join(", ", [for k, r in local.ranges.fanout_stream : "${k} ${r[0]}-${r[1]}"])}."
  }
}

variable "redelivery" {
  description = "Deliveries that still fail when their invocation's budget is spent wait on the redelivery queue for the redeliver function: the queue's delay before the first retry (s), how many receives a record gets before SQS moves it to the delivery DLQ (max_receive_count), and the function's SQS event source mapping: batch size (above 10 needs a batching window of at least 1 s), batching window (s) and maximum concurrent invocations (a reservation of the function must hold it, capacity.tf). The visibility timeout is not an input: it is 6 x the function's timeout. Ranges: local.ranges."
  type = object({
    delay_seconds           = optional(number, 5)
    max_receive_count       = optional(number, 5)
    batch_size              = optional(number, 10)
    batching_window_seconds = optional(number, 0)
    maximum_concurrency     = optional(number, 5)
  })
  default = {}

  validation {
    condition     = alltrue([for k, r in local.ranges.redelivery : var.redelivery[k] >= r[0] && var.redelivery[k] <= r[1] && floor(var.redelivery[k]) == var.redelivery[k]])
    error_message = "redelivery out of range (whole numbers): ${join(", ", [for k, r in local.ranges.redelivery : "${k} ${r[0]}-${r[1]}"])}."
  }

  validation {
    condition     = var.redelivery.batch_size <= 10 || var.redelivery.batching_window_seconds >= 1
    error_message = "redelivery.batch_size above 10 needs redelivery.batching_window_seconds of at least 1 (an SQS event source mapping rule)."
  }
}

variable "queue_age_alarms" {
  description = "Alarm when the oldest message of a delivery queue is older than this many seconds: dlq (a failed delivery nobody replayed; the DLQ's depth alarm already fires on the first one) and redelivery (null: delay + max_receive_count x visibility timeout, the longest a record is meant to stay before it is delivered or moved to the DLQ; older means the redeliver function is not consuming), fanout (null: max_receive_count x visibility timeout of the fan-out queue; older means fanout_worker is not consuming) and fanout_dlq (a shard nobody looked at). Ranges: local.ranges."
  type = object({
    dlq        = optional(number, 3600)
    redelivery = optional(number)
    fanout     = optional(number)
    fanout_dlq = optional(number, 3600)
  })
  default = {}

  validation {
    condition     = alltrue([for k, r in local.ranges.queue_age_alarms : var.queue_age_alarms[k] == null || try(var.queue_age_alarms[k] >= r[0] && var.queue_age_alarms[k] <= r[1], false)])
    error_message = "queue_age_alarms out of range (seconds): ${join(", ", [for k, r in local.ranges.queue_age_alarms : "${k} ${r[0]}-${r[1]}"])}."
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
