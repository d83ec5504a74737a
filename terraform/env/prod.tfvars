# make plan|apply ENV=prod REGION=<primary_region or secondary_region>
# Apply order with two regions: primary first, then secondary (destroy in reverse).
environment      = "prod"
primary_region   = "eu-west-1"
secondary_region = "eu-central-1"

# Custom domain + DNS failover: clients use wss://<domain_name>/prod, Route 53 answers with the
# PRIMARY region while its /health check is healthy, else with the SECONDARY. null = no custom
# domain and no failover (clients use each region's execute-api URL).
custom_domain = null
# custom_domain = { name = "chat.example.com", hosted_zone_id = "Z0123456789ABCDEFGHIJ" } # public zone of the name

health_check = {
  request_interval  = 10 # fast checks: detection ~ 10 s x 3 = 30 s (+ TTL)
  failure_threshold = 3
  # alarm           = "integration-errors" # also fail over on API integration errors
}

auth_enabled        = true
deletion_protection = true

log_level                   = "INFO"
log_retention_in_days       = 365
kms_deletion_window_in_days = 30
tracing_mode                = "Active"

manage_apigateway_account = true
execution_logging_level   = "ERROR"

table_autoscaling = {
  read_min           = 10
  read_max           = 1000
  write_min          = 10
  write_max          = 1000
  target_utilization = 70
}

# Module defaults apply (sum 148 reserved); raise per function after load tests.
functions = {
  connect      = { warm_instances = 3 }
  authorizer   = { warm_instances = 3 }
  send_message = { warm_instances = 3 }
  rooms        = { warm_instances = 2 }
}

default_throttling = {
  burst_limit = 2000
  rate_limit  = 1000
}

route_throttling = {
  sendMessage = { burst_limit = 500, rate_limit = 300 }
}

# alarm_emails = ["oncall@example.com"]
