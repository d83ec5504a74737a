output "function_name" {
  description = "Deployed name of the warmer function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the warmer function."
  value       = module.function.arn
}

output "role_arn" {
  description = "ARN of the warmer's execution role."
  value       = module.function.role_arn
}

output "rule_arn" {
  description = "ARN of the EventBridge schedule rule."
  value       = aws_cloudwatch_event_rule.this.arn
}

output "warm_targets" {
  description = "The WARM_TARGETS map passed to the warmer."
  value       = local.warm_targets
}

output "log_group_name" {
  description = "Log group of the warmer function."
  value       = module.function.log_group_name
}

output "reserved_concurrent_executions" {
  description = "Reserved concurrency of the warmer."
  value       = module.function.reserved_concurrent_executions
}
