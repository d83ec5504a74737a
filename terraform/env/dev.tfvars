# make plan|apply ENV=dev REGION=<primary_region or secondary_region>
# Apply order with two regions: primary first, then secondary (destroy in reverse).
environment      = "dev"
primary_region   = "eu-west-1"
secondary_region = "eu-central-1"

# Custom domain + DNS failover. null = none: each region is reached on its own execute-api URL
# (outputs websocket_url / health_url; the `failover` output says so after every apply) and
# nothing is created in Route 53: no health checks, no failover records. Set it to serve
# wss://<domain_name>/dev from the PRIMARY region with failover to the SECONDARY.
custom_domain = null
# custom_domain = { name = "chat-dev.example.com", hosted_zone_id = "Z0123456789ABCDEFGHIJ" } # public zone of the name

health_check = {
  request_interval  = 30 # detection ~ 30 s x 3 = 90 s
  failure_threshold = 3
}

# Dev is open by default for quick manual testing (auth_mode none; $connect still checks Origin
# when allowed_origins is set); prod always requires a token. To try Cognito in dev:
#   auth_mode = "cognito"
#   cognito   = { callback_urls = ["http://localhost:8000/"], logout_urls = ["http://localhost:8000/"] }
auth_mode           = "none"
allowed_origins     = [] # any Origin; e.g. ["https://chat-dev.example.com", "http://localhost:8000"]
deletion_protection = false

log_level                   = "DEBUG"
log_retention_in_days       = 14
kms_deletion_window_in_days = 7
tracing_mode                = "PassThrough"

execution_logging_level = "ERROR"

table_autoscaling = {
  read_min  = 2
  read_max  = 20
  write_min = 2
  write_max = 20
}

# No reserved concurrency in dev (the default: every function null = unreserved), so the first
# apply works in a brand-new account (concurrency quota 10). Warm only the hot path.
functions = {
  authorizer   = { warm_instances = 0 }
  connect      = { warm_instances = 1 }
  ping         = { warm_instances = 0 }
  send_message = { warm_instances = 1 }
}

default_throttling = {
  burst_limit = 100
  rate_limit  = 50
}

route_throttling = {
  sendMessage = { burst_limit = 50, rate_limit = 20 }
}
