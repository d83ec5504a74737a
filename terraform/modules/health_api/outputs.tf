output "api_id" {
  description = "HTTP API id."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Regional execute-api endpoint, https://{api}.execute-api.{region}.amazonaws.com."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN of the API."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "fqdn" {
  description = "Hostname the Route 53 health check probes (the regional execute-api hostname)."
  value       = trimprefix(aws_apigatewayv2_api.this.api_endpoint, "https://")
}

output "path" {
  description = "Path of the health route."
  value       = local.path
}

output "health_url" {
  description = "Full URL of the health endpoint, https://{api}.execute-api.{region}.amazonaws.com/health."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}${local.path}"
}

output "access_log_group_name" {
  description = "Access log group name."
  value       = aws_cloudwatch_log_group.this.name
}
