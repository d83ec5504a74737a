output "environment" {
  description = "Environment (= Terraform workspace)."
  value       = var.environment
}

output "region" {
  description = "Region of this state."
  value       = var.region
}

output "failover_role" {
  description = "PRIMARY or SECONDARY."
  value       = local.failover_role
}

output "websocket_url" {
  description = "This region's own execute-api WebSocket URL, wss://{api}.execute-api.{region}.amazonaws.com/{stage} (dynamowave drill pings each region through it)."
  value       = module.websocket_api.stage_invoke_url
}

output "public_websocket_url" {
  description = "URL to give clients: wss://<custom domain>/ when a custom domain is set, else websocket_url."
  value       = module.websocket_api.websocket_url
}

output "management_endpoint" {
  description = "@connections endpoint of this region: https://{api}.execute-api.{region}.amazonaws.com/{stage}."
  value       = module.websocket_api.management_endpoint
}

output "api_id" {
  description = "WebSocket API id."
  value       = module.websocket_api.api_id
}

output "stage_name" {
  description = "WebSocket stage."
  value       = module.websocket_api.stage_name
}

output "custom_domain_target" {
  description = "Regional target of the custom domain for failover alias records (null without a custom domain)."
  value       = module.websocket_api.domain_target
}

output "table_name" {
  description = "DynamoDB table name."
  value       = local.table_name
}

output "table_arn" {
  description = "DynamoDB table ARN in this region."
  value       = local.table_arn
}

output "table_stream_arn" {
  description = "Stream ARN of this region's table (replica) for the fan-out consumer."
  value       = local.table_stream_arn
}

output "dlq_url" {
  description = "URL of the SQS delivery DLQ: deliveries that failed every redelivery (max_receive_count receives on the redelivery queue). dynamowave replay-dlq reads it."
  value       = module.dlq.url
}

output "dlq_arn" {
  description = "ARN of the SQS delivery DLQ."
  value       = module.dlq.arn
}

output "redelivery_queue_url" {
  description = "URL of the SQS redelivery queue: deliveries that failed within their invocation's budget, consumed by the redeliver function (REDELIVERY_QUEUE_URL of send_message and fanout)."
  value       = module.redelivery_queue.url
}

output "catch_up_margin_ms" {
  description = "How far behind the newest message it has seen a reconnecting client asks history since: 10 s of replication lag plus the redelivery window (delivery budget + queue delay + max_receive_count x visibility timeout), so a delivery dropped with its dead connection is caught up."
  value       = 10000 + var.app_settings.delivery_budget_ms + local.redelivery_lifetime_seconds * 1000
}

output "function_names" {
  description = "Manifest function name => deployed Lambda function name."
  value       = { for k, f in module.functions : k => f.function_name }

  precondition {
    condition     = length(setsymmetricdifference(keys(local.manifest.functions), keys(module.functions))) == 0
    error_message = "Every function in dist/manifest.json needs a Terraform function and vice versa."
  }
}

output "alarm_topic_arn" {
  description = "SNS topic receiving every alarm."
  value       = module.alarms.topic_arn
}

# --- identity: what a browser client needs to sign in and connect ---

output "auth_mode" {
  description = "Identity on $connect: none, oidc or cognito."
  value       = var.auth_mode
}

output "auth_issuer" {
  description = "Issuer whose tokens $connect accepts (the Cognito user pool's https://cognito-idp.<primary region>.amazonaws.com/<pool id>, or oidc_issuer_url); null with auth_mode none."
  value       = local.auth_on ? local.auth_issuer : null
}

output "auth_client_id" {
  description = "OAuth client id a browser signs in with (the Cognito app client: public, no secret, authorization code + PKCE), which is also the audience the authorizer checks; null with auth_mode none."
  value       = local.auth_on ? local.auth_audience : null
}

output "cognito_hosted_ui_url" {
  description = "auth_mode = cognito: the hosted UI, https://<prefix>.auth.<primary region>.amazoncognito.com (/oauth2/authorize, /oauth2/token, /logout); the same in both regions' outputs; null otherwise."
  value       = local.cognito_hosted_ui
}

output "cognito_user_pool_id" {
  description = "auth_mode = cognito: the user pool id (in the primary region); null otherwise or while the secondary cannot see it."
  value       = local.cognito ? (local.is_primary ? one(module.cognito[*].user_pool_id) : local.primary_pool_id) : null
}

output "allowed_origins" {
  description = "Browser origins allowed to open a socket (empty: any)."
  value       = var.allowed_origins
}

# --- two regions, health and DNS failover (`dynamowave drill` reads these) ---

output "primary_region" {
  description = "Region whose apply owns the global table."
  value       = var.primary_region
}

output "global_table_regions" {
  description = "Regions holding the table: the primary and, once the primary's apply added it, the secondary's replica (primary's state); the secondary lists both."
  value       = local.is_primary ? compact([var.region, one(aws_dynamodb_table_replica.secondary[*].region)]) : [var.primary_region, var.region]
}

output "health_url" {
  description = "This region's health endpoint, https://{api}.execute-api.{region}.amazonaws.com/health (what the Route 53 health check probes)."
  value       = module.health_api.health_url
}

output "health_check_id" {
  description = "Id of the Route 53 health check on this region's failover record (null without DNS failover). The drill inverts the primary's."
  value       = one(module.dns_failover[*].health_check_id)
}

output "failover_domain_name" {
  description = "The shared failover name both regions serve (null without DNS failover)."
  value       = local.dns_failover ? var.custom_domain.name : null
}

output "hosted_zone_id" {
  description = "Route 53 hosted zone holding the PRIMARY/SECONDARY failover records (null without DNS failover)."
  value       = local.dns_failover ? var.custom_domain.hosted_zone_id : null
}

output "failover_websocket_url" {
  description = "URL clients use with DNS failover, wss://<failover_domain_name>/<stage> (null without DNS failover)."
  value       = local.dns_failover ? "wss://${var.custom_domain.name}/${local.stage_name}" : null
}

output "fanout_queue_url" {
  description = "URL of the SQS fan-out queue: shards of big rooms' recipients (FANOUT_QUEUE_URL of send_message and fanout), consumed by fanout_worker."
  value       = module.fanout_queue.url
}

output "fanout_dlq_url" {
  description = "URL of the fan-out DLQ: shards that failed fanout_sharding.max_receive_count receives (alarmed)."
  value       = module.fanout_dlq.url
}

output "powertools_layer_arn" {
  description = "The Powertools for AWS Lambda (Python) layer version every function uses."
  value       = local.powertools_layer_arn
}

output "fanout_failure_queue_url" {
  description = "SQS queue receiving the metadata of stream batches the fan-out gave up on (ESM on-failure destination)."
  value       = module.fanout_failures.url
}

output "failover" {
  description = "How clients reach this environment: DNS failover on (the failover URL) or off (each region's own URL, no health checks, no failover records)."
  value = local.dns_failover ? "DNS failover on: clients use wss://${var.custom_domain.name}/${local.stage_name} (PRIMARY ${var.primary_region}, SECONDARY ${var.secondary_region})" : (
    local.two_regions
    ? "DNS failover off (custom_domain is null): no health checks, no failover records; clients use each region's own URL, this region's is ${module.websocket_api.stage_invoke_url}"
    : "Single region: clients use ${module.websocket_api.websocket_url}"
  )
}

output "dashboard_name" {
  description = "Name of this region's CloudWatch dashboard (application metrics, API, functions, table, queues)."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of this region's CloudWatch dashboard."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}
