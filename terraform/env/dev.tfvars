# make plan|apply ENV=dev REGION=<primary_region or secondary_region>
environment      = "dev"
primary_region   = "eu-west-1"
secondary_region = "eu-central-1"

# Dev is open by default for quick manual testing; prod always requires a token.
auth_enabled        = false
deletion_protection = false

log_level                   = "DEBUG"
log_retention_in_days       = 14
kms_deletion_window_in_days = 7
tracing_mode                = "PassThrough"

# Dev and prod in separate accounts (recommended): each manages its own API Gateway logging role.
# If both share one account, set this to true in only one of them.
manage_apigateway_account = true
execution_logging_level   = "ERROR"

table_autoscaling = {
  read_min  = 2
  read_max  = 20
  write_min = 2
  write_max = 20
}

# Small reserved concurrency in dev (sum 48): the account still needs >= 100 unreserved.
functions = {
  connect      = { reserved_concurrency = 5 }
  disconnect   = { reserved_concurrency = 5 }
  default      = { reserved_concurrency = 2 }
  ping         = { reserved_concurrency = 3 }
  send_message = { reserved_concurrency = 10 }
  rooms        = { reserved_concurrency = 5 }
  authorizer   = { reserved_concurrency = 5 }
  fanout       = { reserved_concurrency = 5 }
  health       = { reserved_concurrency = 2 }
  warmer       = { reserved_concurrency = 1 }
}

warm_targets = {
  connect      = 1
  send_message = 1
  rooms        = 1
}

default_throttling = {
  burst_limit = 100
  rate_limit  = 50
}

send_message_throttling = {
  burst_limit = 50
  rate_limit  = 20
}
