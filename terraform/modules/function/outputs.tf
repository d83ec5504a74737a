output "function_name" {
  description = "Deployed function name."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "Function ARN (unqualified)."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN API Gateway uses to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the execution role."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function."
  value       = aws_lambda_function.this.reserved_concurrent_executions
}
