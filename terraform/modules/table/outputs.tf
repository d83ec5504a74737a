output "name" {
  description = "Table name."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "Table ARN."
  value       = aws_dynamodb_table.this.arn
}

output "index_arns" {
  description = "ARNs of the table's GSIs (empty when it has none)."
  value       = [for n in keys(local.gsis) : "${aws_dynamodb_table.this.arn}/index/${n}"]
}

output "stream_arn" {
  description = "ARN of the table stream (NEW_AND_OLD_IMAGES)."
  value       = aws_dynamodb_table.this.stream_arn
}

output "kms_key_arn" {
  description = "ARN of the customer-managed key encrypting the table."
  value       = module.kms.arn
}

output "write_scaling_policy_arns" {
  description = "ARNs of the write-capacity scaling policies (a replica must be created after them)."
  value       = [for k, p in aws_appautoscaling_policy.this : p.arn if endswith(k, "-write")]
}

output "hash_key" {
  description = "Partition key attribute name (from schema.json)."
  value       = local.schema.hash_key
}

output "range_key" {
  description = "Sort key attribute name (from schema.json)."
  value       = local.schema.range_key
}
