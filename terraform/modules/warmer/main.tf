locals {
  # The warmer reads WARM_TARGETS = {"<deployed function name>": N}.
  warm_targets = { for k, t in var.targets : t.function_name => t.concurrency }
}

module "function" {
  source = "../function"

  name                           = var.name
  description                    = "Keeps the critical DynamoWave functions warm (best effort)"
  package                        = var.package
  runtime                        = var.runtime
  architecture                   = var.architecture
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  log_level                      = var.log_level
  log_retention_in_days          = var.log_retention_in_days
  log_kms_key_arn                = var.log_kms_key_arn
  tracing_mode                   = var.tracing_mode
  permissions_boundary_arn       = var.permissions_boundary_arn
  tags                           = var.tags

  environment = {
    WARM_TARGETS = jsonencode(local.warm_targets)
  }

  # Exactly the target functions, nothing else.
  policy_statements = [{
    sid       = "InvokeWarmTargets"
    actions   = ["lambda:InvokeFunction"]
    resources = sort([for t in values(var.targets) : t.arn])
  }]
}

resource "aws_cloudwatch_event_rule" "this" {
  name                = var.name
  description         = "Invokes ${var.name} on a schedule"
  schedule_expression = var.schedule_expression
  state               = var.enabled ? "ENABLED" : "DISABLED"
  tags                = var.tags
}

# The scheduled event is passed as is: it is not a warm-up event, so the warmer does its work.
resource "aws_cloudwatch_event_target" "this" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "warmer"
  arn       = module.function.arn

  retry_policy {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this.arn
}

# Best effort: a missed warm-up is not worth a retry.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = module.function.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}
