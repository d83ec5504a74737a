output "health_check_id" {
  description = "Id of the health check the failover record uses (the CALCULATED check when an alarm is combined, else the HTTPS check). `dynamowave drill` inverts this one."
  value       = local.record_health_check_id
}

output "record_fqdn" {
  description = "FQDN of the failover record."
  value       = aws_route53_record.this.fqdn
}
