output "topic_arn" {
  description = "ARN of the alarm SNS topic."
  value       = aws_sns_topic.this.arn
}

output "alarm_names" {
  description = "Names of every alarm created."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.lambda : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.api : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.dynamodb : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.sqs : a.alarm_name],
  )
}

output "dlq_depth_alarm_arn" {
  description = "ARN of the DLQ depth alarm (usable in a CALCULATED/CloudWatch health check later)."
  value       = aws_cloudwatch_metric_alarm.sqs["dlq-depth"].arn
}

output "api_alarm_names" {
  description = "WebSocket API alarm key (integration-errors, execution-errors) => alarm name (usable by a CLOUDWATCH_METRIC Route 53 health check)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.api : k => a.alarm_name }
}
