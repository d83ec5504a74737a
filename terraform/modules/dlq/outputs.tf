output "url" {
  description = "Queue URL (SendMessage, ReceiveMessage)."
  value       = aws_sqs_queue.this.url
}

output "arn" {
  description = "Queue ARN."
  value       = aws_sqs_queue.this.arn
}

output "name" {
  description = "Queue name (CloudWatch dimension QueueName)."
  value       = aws_sqs_queue.this.name
}

output "kms_key_arn" {
  description = "ARN of the key encrypting the queue (producers need kms:GenerateDataKey and kms:Decrypt, consumers kms:Decrypt)."
  value       = module.kms.arn
}
