# Route 53 DNS failover for one region: this region's health check(s) and its failover alias
# record for the shared custom domain. The PRIMARY region's apply creates the PRIMARY record, the
# SECONDARY's apply the SECONDARY record; each record carries its own region's health check.
#
# The custom domain itself (ACM certificate in this region, DNS-validated in the zone,
# aws_apigatewayv2_domain_name with TLS_1_2 and the API mapping) belongs to the websocket_api
# module; this module only receives its regional target.

locals {
  with_alarm = var.alarm != null
  # The check the record uses (and the drill inverts): HTTPS alone, or HTTPS AND the alarm.
  record_health_check_id = local.with_alarm ? aws_route53_health_check.combined[0].id : aws_route53_health_check.https.id
  set_identifier         = coalesce(var.record.set_identifier, "${var.name}-${lower(var.record.failover_role)}")
}

# HTTPS GET on this region's /health (its own regional hostname, never the failover name).
resource "aws_route53_health_check" "https" {
  type              = "HTTPS"
  fqdn              = var.health_check.fqdn
  port              = 443
  resource_path     = var.health_check.path
  enable_sni        = true
  request_interval  = var.health_check.request_interval
  failure_threshold = var.health_check.failure_threshold
  measure_latency   = var.health_check.measure_latency
  regions           = var.health_check.regions
  tags              = merge(var.tags, { Name = "${var.name}-health-https" })
}

# Optional: a CloudWatch alarm of this region as a second signal (e.g. integration errors).
resource "aws_route53_health_check" "alarm" {
  count = local.with_alarm ? 1 : 0

  type                            = "CLOUDWATCH_METRIC"
  cloudwatch_alarm_name           = var.alarm.name
  cloudwatch_alarm_region         = var.alarm.region
  insufficient_data_health_status = var.alarm.insufficient_data_health_status
  tags                            = merge(var.tags, { Name = "${var.name}-health-alarm" })
}

# Healthy only when every child is healthy.
resource "aws_route53_health_check" "combined" {
  count = local.with_alarm ? 1 : 0

  type                   = "CALCULATED"
  child_healthchecks     = [aws_route53_health_check.https.id, aws_route53_health_check.alarm[0].id]
  child_health_threshold = 2
  tags                   = merge(var.tags, { Name = "${var.name}-health" })
}

# Failover alias to this region's custom-domain target. Alias records take the target's TTL.
resource "aws_route53_record" "this" {
  zone_id         = var.record.zone_id
  name            = var.record.domain_name
  type            = "A"
  set_identifier  = local.set_identifier
  health_check_id = local.record_health_check_id

  failover_routing_policy {
    type = var.record.failover_role
  }

  alias {
    name                   = var.target.target_name
    zone_id                = var.target.hosted_zone_id
    evaluate_target_health = true
  }
}
