output "cloudwatch_role_arn" {
  description = "Role API Gateway uses in this account and region to write logs to CloudWatch Logs."
  value       = aws_api_gateway_account.this.cloudwatch_role_arn
}
