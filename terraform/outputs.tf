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
  description = "URL of the SQS delivery DLQ (replay with make replay-dlq)."
  value       = module.dlq.url
}

output "dlq_arn" {
  description = "ARN of the SQS delivery DLQ."
  value       = module.dlq.arn
}

output "function_names" {
  description = "Manifest function name => deployed Lambda function name."
  value = merge(
    { for k, f in module.functions : k => f.function_name },
    { warmer = module.warmer.function_name },
  )

  precondition {
    condition     = length(setsymmetricdifference(keys(local.manifest.functions), concat(keys(module.functions), ["warmer"]))) == 0
    error_message = "Every function in dist/manifest.json needs a Terraform function and vice versa."
  }
}

output "alarm_topic_arn" {
  description = "SNS topic receiving every alarm."
  value       = module.alarms.topic_arn
}

output "auth_enabled" {
  description = "Whether $connect requires a token."
  value       = var.auth_enabled
}

output "auth_secret_parameter" {
  description = "Name of the SSM SecureString holding the token secret (the value is never in state)."
  value       = aws_ssm_parameter.auth_secret.name
}
