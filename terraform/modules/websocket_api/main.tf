data "aws_region" "current" {}

locals {
  region         = data.aws_region.current.region
  custom_domain  = var.custom_domain != null
  auth_enabled   = var.authorizer != null
  two_way_routes = { for k, r in var.routes : k => r if r.two_way }
  # Lambda statement ids allow [A-Za-z0-9_-] only.
  statement_ids = { for k in keys(var.routes) : k => "AllowApiGatewayRoute-${replace(k, "$", "")}" }
}

resource "aws_apigatewayv2_api" "this" {
  name                       = var.name
  description                = "DynamoWave chat WebSocket API"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  # Keep the regional execute-api endpoint: the handlers' @connections calls go through it.
  disable_execute_api_endpoint = false
  tags                         = var.tags
}

# One AWS_PROXY integration per route.
resource "aws_apigatewayv2_integration" "this" {
  for_each = var.routes

  api_id                    = aws_apigatewayv2_api.this.id
  description               = "${each.key} -> ${each.value.function_name}"
  integration_type          = "AWS_PROXY"
  integration_method        = "POST"
  integration_uri           = each.value.invoke_arn
  content_handling_strategy = "CONVERT_TO_TEXT"
  passthrough_behavior      = "WHEN_NO_MATCH"
  timeout_milliseconds      = 29000 # API Gateway's maximum; the handlers finish well within it
}

resource "aws_apigatewayv2_authorizer" "this" {
  count = local.auth_enabled ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-token"
  authorizer_type  = "REQUEST"
  authorizer_uri   = var.authorizer.invoke_arn
  identity_sources = var.authorizer.identity_sources
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:WebSocket APIs run authorizers on $connect only; $connect uses the REQUEST authorizer whenever auth is enabled (default, and enforced in prod). Other routes ride on the authorized connection.
  for_each = var.routes

  api_id                              = aws_apigatewayv2_api.this.id
  route_key                           = each.key
  operation_name                      = each.value.operation_name
  target                              = "integrations/${aws_apigatewayv2_integration.this[each.key].id}"
  authorization_type                  = each.key == "$connect" && local.auth_enabled ? "CUSTOM" : "NONE"
  authorizer_id                       = each.key == "$connect" && local.auth_enabled ? aws_apigatewayv2_authorizer.this[0].id : null
  route_response_selection_expression = each.value.two_way ? "$default" : null
}

# Two-way routes: the handler's return body reaches the client only through a route response.
resource "aws_apigatewayv2_route_response" "this" {
  for_each = local.two_way_routes

  api_id             = aws_apigatewayv2_api.this.id
  route_id           = aws_apigatewayv2_route.this[each.key].id
  route_response_key = "$default"
}

resource "aws_lambda_permission" "route" {
  for_each = var.routes

  statement_id  = local.statement_ids[each.key]
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  # WebSocket source ARN: <execution_arn>/<stage>/<route key>
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/${each.key}"
}

resource "aws_lambda_permission" "authorizer" {
  count = local.auth_enabled ? 1 : 0

  statement_id  = "AllowApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this[0].id}"
}

resource "aws_apigatewayv2_deployment" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  description = "Routes of ${var.name}"

  # Redeploy whenever a route, integration, route response or the authorizer changes.
  triggers = {
    redeployment = sha1(jsonencode([
      [for k, r in aws_apigatewayv2_route.this : [k, r.target, r.authorization_type, r.authorizer_id, r.route_response_selection_expression]],
      [for k, i in aws_apigatewayv2_integration.this : [k, i.integration_uri, i.timeout_milliseconds]],
      [for k, rr in aws_apigatewayv2_route_response.this : [k, rr.route_response_key]],
      [for a in aws_apigatewayv2_authorizer.this : [a.authorizer_uri, a.identity_sources]],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_apigatewayv2_route.this, aws_apigatewayv2_route_response.this]
}

# Access logs (the stage's JSON lines) and execution logs. API Gateway writes execution logs to
# API-Gateway-Execution-Logs_{api_id}/{stage} and creates that group itself when it is missing:
# unencrypted, never expiring and left behind by a destroy. Created here first instead, with the
# stack's key and retention (the stage waits for both).
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_in_days): 365 days in prod, 14 in dev to limit cost.
  for_each = {
    access    = "/aws/apigateway/${var.name}/${var.stage_name}"
    execution = "API-Gateway-Execution-Logs_${aws_apigatewayv2_api.this.id}/${var.stage_name}"
  }

  name              = each.value
  retention_in_days = var.logs.retention_in_days
  kms_key_id        = var.logs.kms_key_arn
  tags              = var.tags
}

moved {
  from = aws_cloudwatch_log_group.this
  to   = aws_cloudwatch_log_group.this["access"]
}

resource "aws_apigatewayv2_stage" "this" {
  #checkov:skip=CKV2_AWS_51:Client certificates (mutual TLS) are not supported for WebSocket APIs; clients authenticate with a token on $connect.
  api_id        = aws_apigatewayv2_api.this.id
  name          = var.stage_name
  description   = "DynamoWave ${var.stage_name}"
  deployment_id = aws_apigatewayv2_deployment.this.id
  tags          = var.tags

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.this["access"].arn
    # Never the message body: identifiers, route, status and latency only.
    format = jsonencode({
      requestId          = "$context.requestId"
      extendedRequestId  = "$context.extendedRequestId"
      connectionId       = "$context.connectionId"
      eventType          = "$context.eventType"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      requestTimeEpoch   = "$context.requestTimeEpoch"
      sourceIp           = "$context.identity.sourceIp"
      integrationStatus  = "$context.integration.status"
      integrationLatency = "$context.integration.latency"
      integrationError   = "$context.integration.error"
      errorMessage       = "$context.error.message"
      authorizeError     = "$context.authorize.error"
    })
  }

  # Both limits MUST be explicit: left unset they are 0 and every request gets 429.
  default_route_settings {
    throttling_burst_limit   = var.throttling.default.burst_limit
    throttling_rate_limit    = var.throttling.default.rate_limit
    data_trace_enabled       = false
    detailed_metrics_enabled = true
    logging_level            = var.logs.execution_logging_level
  }

  dynamic "route_settings" {
    for_each = var.throttling.routes
    content {
      route_key                = aws_apigatewayv2_route.this[route_settings.key].route_key
      throttling_burst_limit   = route_settings.value.burst_limit
      throttling_rate_limit    = route_settings.value.rate_limit
      data_trace_enabled       = false
      detailed_metrics_enabled = true
      logging_level            = var.logs.execution_logging_level
    }
  }

  depends_on = [aws_cloudwatch_log_group.this]
}

# Optional custom domain (regional, TLS 1.2, ACM certificate validated through Route 53).
resource "aws_acm_certificate" "this" {
  count = local.custom_domain ? 1 : 0

  domain_name       = var.custom_domain.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# One state owns the validation record: ACM gives every certificate for the same name in the
# same account the same CNAME, in every region. The primary's apply creates it
# (create_validation_records); the secondary's certificate is validated by that record.
resource "aws_route53_record" "validation" {
  for_each = local.custom_domain && try(var.custom_domain.create_validation_records, true) ? {
    for o in aws_acm_certificate.this[0].domain_validation_options : o.domain_name => o
  } : {}

  zone_id = var.custom_domain.zone_id
  name    = each.value.resource_record_name
  type    = each.value.resource_record_type
  records = [each.value.resource_record_value]
  ttl     = 300
}

resource "aws_acm_certificate_validation" "this" {
  count = local.custom_domain ? 1 : 0

  certificate_arn = aws_acm_certificate.this[0].arn
  # The record names ACM asks for (created by this state or by the primary's).
  validation_record_fqdns = [for o in aws_acm_certificate.this[0].domain_validation_options : trimsuffix(o.resource_record_name, ".")]

  depends_on = [aws_route53_record.validation]
}

resource "aws_apigatewayv2_domain_name" "this" {
  count = local.custom_domain ? 1 : 0

  domain_name = var.custom_domain.domain_name
  tags        = var.tags

  domain_name_configuration {
    certificate_arn = aws_acm_certificate_validation.this[0].certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = local.custom_domain ? 1 : 0

  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this[0].id
  stage       = aws_apigatewayv2_stage.this.id
  # wss://<domain>/<stage>, the same path as the regional URL and the local runtime.
  api_mapping_key = var.stage_name
}

# A plain alias for single-region use; with two regions the failover records replace it.
resource "aws_route53_record" "alias" {
  count = local.custom_domain && try(var.custom_domain.create_alias_record, false) ? 1 : 0

  zone_id = var.custom_domain.zone_id
  name    = var.custom_domain.domain_name
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = true
  }
}
