output "api_id" {
  description = "WebSocket API id (WEBSOCKET_API_ID)."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Regional execute-api endpoint (wss://...)."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN of the API (prefix of route and @connections ARNs)."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "stage_name" {
  description = "Stage name (WEBSOCKET_STAGE)."
  value       = aws_apigatewayv2_stage.this.name
}

output "stage_invoke_url" {
  description = "Regional WebSocket URL of the stage."
  value       = aws_apigatewayv2_stage.this.invoke_url
}

output "websocket_url" {
  description = "URL clients connect to: the custom domain when set, else the regional stage URL."
  value       = local.custom_domain ? "wss://${var.custom_domain.domain_name}/${var.stage_name}" : aws_apigatewayv2_stage.this.invoke_url
}

output "management_endpoint" {
  description = "@connections endpoint, built from api id + region + stage (never from the custom domain)."
  value       = "https://${aws_apigatewayv2_api.this.id}.execute-api.${local.region}.amazonaws.com/${aws_apigatewayv2_stage.this.name}"
}

output "connections_arn_prefix" {
  description = "ARN prefix for execute-api:ManageConnections: <execution_arn>/<stage>."
  value       = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}"
}

output "route_keys" {
  description = "Route keys deployed."
  value       = keys(aws_apigatewayv2_route.this)
}

output "log_group_names" {
  description = "Log group names: access (the stage's JSON access log) and execution (API-Gateway-Execution-Logs_{api_id}/{stage})."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "domain_target" {
  description = "Regional target of the custom domain (for failover alias records), or null."
  value = local.custom_domain ? {
    domain_name    = aws_apigatewayv2_domain_name.this[0].domain_name
    target_name    = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    hosted_zone_id = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
  } : null
}
