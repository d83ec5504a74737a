# GET /health on a small HTTP API of its own: Route 53 health checks cannot speak WebSocket, and
# the health endpoint must have a regional hostname that failover never moves (the execute-api
# hostname of this API, https://{api}.execute-api.{region}.amazonaws.com/health).

locals {
  path      = "/health"
  route_key = "GET ${local.path}"
  # Route 53 counts a check as failed when the answer takes longer than about 2 s after
  # connecting, so a slow table fails over anyway.
  integration_timeout_milliseconds = 5000
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = "DynamoWave health endpoint (Route 53 health checks)"
  protocol_type = "HTTP"
  # The Route 53 health check probes this hostname: keep it.
  disable_execute_api_endpoint = false
  tags                         = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  description            = "${local.route_key} -> ${var.function.name}"
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.function.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = local.integration_timeout_milliseconds
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:Public by design: Route 53 health checkers cannot authenticate. /health reveals only status, region and version, and the stage is throttled.
  api_id         = aws_apigatewayv2_api.this.id
  route_key      = local.route_key
  operation_name = "Health"
  target         = "integrations/${aws_apigatewayv2_integration.this.id}"
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowHealthHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = var.function.name
  principal     = "apigateway.amazonaws.com"
  # HTTP API source ARN: <execution_arn>/<stage>/<method><path>; only this route.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/GET${local.path}"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_in_days): 365 days in prod, 14 in dev to limit cost.
  name              = var.logs.group_name
  retention_in_days = var.logs.retention_in_days
  kms_key_id        = var.logs.kms_key_arn
  tags              = var.tags
}

# The $default stage (auto-deployed) serves https://{api}.execute-api.{region}.amazonaws.com/health.
resource "aws_apigatewayv2_stage" "this" {
  #checkov:skip=CKV2_AWS_51:Client certificates (mutual TLS) cannot be presented by Route 53 health checkers.
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  description = "Health endpoint for Route 53"
  auto_deploy = true
  tags        = var.tags

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.this.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      requestTimeEpoch   = "$context.requestTimeEpoch"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      responseLatency    = "$context.responseLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      errorMessage       = "$context.error.message"
    })
  }

  # Both limits explicit (unset = 0 = every request throttled). Route 53 sends roughly one
  # request per checker region per interval: ~2 rps at 10 s with the default 8 regions.
  default_route_settings {
    throttling_burst_limit   = var.throttling.burst_limit
    throttling_rate_limit    = var.throttling.rate_limit
    detailed_metrics_enabled = true
  }
}
