# Health endpoint and Route 53 DNS failover of this region.
#
# Health: GET /health on a small HTTP API (payload 2.0 -> the health function) served on this
# region's execute-api hostname, https://{api}.execute-api.{region}.amazonaws.com/health. That
# hostname is regional by construction, needs no certificate of ours and is never moved by
# failover, which is exactly what a per-region health check must probe (the failover name
# cannot be checked: it answers with whichever region is active, and over WebSocket).
#
# DNS failover (custom_domain set and two regions): the WebSocket API's custom domain (ACM
# certificate in this region, TLS_1_2, API mapping: module.websocket_api) is the shared name;
# module.dns_failover adds this region's health check and its failover alias record, PRIMARY in
# the primary's apply and SECONDARY in the secondary's. The handlers keep posting to
# @connections through the regional execute-api endpoint, never through the failover name.

module "health_api" {
  source = "./modules/health_api"

  name = "${local.name_prefix}-health"
  function = {
    name       = module.functions["health"].function_name
    invoke_arn = module.functions["health"].invoke_arn
  }
  logs = {
    group_name        = "/aws/apigateway/${local.name_prefix}/health"
    retention_in_days = var.log_retention_in_days
    kms_key_arn       = module.logs_kms.arn
  }
}

module "dns_failover" {
  source = "./modules/dns_failover"
  count  = local.dns_failover ? 1 : 0

  name = "${local.name_prefix}-${var.region}"
  record = {
    domain_name   = var.custom_domain.name
    zone_id       = var.custom_domain.hosted_zone_id
    failover_role = local.failover_role
  }
  target = {
    target_name    = module.websocket_api.domain_target.target_name
    hosted_zone_id = module.websocket_api.domain_target.hosted_zone_id
  }
  # var.health_check's interval, threshold, latency and checker regions, probing this region's
  # own /health hostname (the alarm key is used below).
  health_check = merge(var.health_check, { fqdn = module.health_api.fqdn, path = module.health_api.path })
  alarm = var.health_check.alarm == null ? null : {
    # coalesce: the key is never null, even in the branch Terraform does not select
    name   = module.alarms.api_alarm_names[coalesce(var.health_check.alarm, "integration-errors")]
    region = var.region
  }
}
