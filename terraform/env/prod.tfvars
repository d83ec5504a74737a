# make plan|apply ENV=prod REGION=<primary_region or secondary_region>
# Apply order with two regions: primary first, then secondary (destroy in reverse).
environment      = "prod"
primary_region   = "eu-west-1"
secondary_region = "eu-central-1"

# Custom domain + DNS failover: clients use wss://<name>/prod, Route 53 answers with the PRIMARY
# region while its /health check is healthy, else with the SECONDARY.
# REQUIRED in prod with a secondary_region: the plan refuses null (no failover would be silent).
custom_domain = null
# custom_domain = { name = "chat.example.com", hosted_zone_id = "Z0123456789ABCDEFGHIJ" } # public zone of the name

health_check = {
  request_interval  = 10 # fast checks: detection ~ 10 s x 3 = 30 s (+ TTL)
  failure_threshold = 3
  # alarm           = "integration-errors" # also fail over on API integration errors
}

deletion_protection = true

# Identity: Cognito user pool + hosted UI, created by the primary region's apply; the secondary
# accepts the same tokens (sign-in itself needs the primary region's Cognito). Replace the
# example URLs with your web client's (https only in prod).
auth_mode      = "cognito"
auth_token_use = "id" # the ID token carries `name` (AUTH_NAME_CLAIM) and aud = client id
cognito = {
  callback_urls          = ["https://chat.example.com/"]
  logout_urls            = ["https://chat.example.com/"]
  token_validity_minutes = 60
  refresh_token_days     = 30
}
allowed_origins            = ["https://chat.example.com"]
max_token_lifetime_seconds = 3600 # = the Cognito token validity above
# auth_mode       = "oidc" # any OpenID Connect issuer instead of Cognito:
# oidc_issuer_url = "https://login.example.com/realms/chat"
# oidc_audience   = "dynamowave"

# Abuse limits (per connection / per user).
limits = {
  send_rate_per_second     = 5
  send_burst               = 10
  max_rooms_per_connection = 20
  max_connections_per_user = 5
}

# Sharded fan-out: rooms above 1,000 members here go out in shards of 250 through fanout_worker.
fanout_sharding = {
  shard_threshold     = 1000
  shard_size          = 250
  max_receive_count   = 3
  batch_size          = 1
  maximum_concurrency = 20
}

log_level                   = "INFO"
log_retention_in_days       = 365
kms_deletion_window_in_days = 30
tracing_mode                = "Active"

execution_logging_level = "ERROR"

table_autoscaling = {
  read_min           = 10
  read_max           = 1000
  write_min          = 10
  write_max          = 1000
  target_utilization = 70
}

# Concurrency (terraform/README.md, "Concurrency"): every route is throttled at the stage, and
# each function reserves what those throttles can send it, burst + rate x p99:
#   $connect     50 rps / burst 50 -> connect    50 + 50 x 0.2 s = 60, authorizer 50 + 50 x 0.1 s = 55
#   $disconnect  50 / 50           -> disconnect 50 + 50 x 0.2 s = 60
#   $default     10 / 10           -> default    10 + 10 x 0.05 s = 10.5 -> 11
#   ping         50 / 50           -> ping       50 + 50 x 0.05 s = 52.5 -> 53
#   sendMessage  50 / 50           -> send_message 50 + 50 x 2.5 s = 175 (p99 = the 2 s delivery budget + 0.5 s)
#   joinRoom, leaveRoom, history 20 / 20 each -> rooms 3 x (20 + 20 x 0.3 s) = 78
#   fanout: no route; 10 caps the stream consumer (shards x parallelization_factor), p99 = budget + 0.5 s
#   redeliver: no route; reserves its SQS mapping's maximum_concurrency (redelivery, default 5), p99 = budget + 0.5 s
#   fanout_worker: no route; reserves its SQS mapping's maximum_concurrency (fanout_sharding, 20), p99 = budget + 0.5 s
#   warmer 1 (one run at a time); health unreserved (Route 53 sends ~2 rps)
# Sum 528: the plan checks that the account's quota (Service Quotas L-B99A9384, 1,000 by default,
# 10 in a brand-new account) leaves at least min_unreserved_concurrency (100) unreserved.
app_settings = {
  delivery_budget_ms = 2000
}

functions = {
  authorizer    = { reserved_concurrency = 55, warm_instances = 3 }
  connect       = { reserved_concurrency = 60, warm_instances = 3 }
  default       = { reserved_concurrency = 11 }
  disconnect    = { reserved_concurrency = 60 }
  fanout        = { reserved_concurrency = 10, p99_ms = 2500 }
  fanout_worker = { reserved_concurrency = 20, p99_ms = 2500 }
  ping          = { reserved_concurrency = 53 }
  redeliver     = { reserved_concurrency = 5, p99_ms = 2500 }
  rooms         = { reserved_concurrency = 78, warm_instances = 2 }
  send_message  = { reserved_concurrency = 175, p99_ms = 2500, warm_instances = 3 }
  warmer        = { reserved_concurrency = 1 }
}

# Stage default (routes without their own limits) and per-route limits; all non-zero.
default_throttling = {
  burst_limit = 10
  rate_limit  = 10
}

route_throttling = {
  "$connect"    = { burst_limit = 50, rate_limit = 50 }
  "$disconnect" = { burst_limit = 50, rate_limit = 50 }
  "$default"    = { burst_limit = 10, rate_limit = 10 }
  ping          = { burst_limit = 50, rate_limit = 50 }
  sendMessage   = { burst_limit = 50, rate_limit = 50 }
  joinRoom      = { burst_limit = 20, rate_limit = 20 }
  leaveRoom     = { burst_limit = 20, rate_limit = 20 }
  history       = { burst_limit = 20, rate_limit = 20 }
}

# alarm_emails = ["oncall@example.com"]
