# An EventBridge schedule that invokes one Lambda function: rule, target and the invoke
# permission scoped to the rule. The function itself is built like every other one
# (modules/function); this module only triggers it.

resource "aws_cloudwatch_event_rule" "this" {
  name                = var.name
  description         = "Invokes ${var.function.name} on a schedule"
  schedule_expression = var.schedule_expression
  state               = var.enabled ? "ENABLED" : "DISABLED"
  tags                = var.tags
}

# The scheduled event is passed as is. A missed run is not retried: the next one comes soon.
resource "aws_cloudwatch_event_target" "this" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = var.name
  arn       = var.function.arn

  retry_policy {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = var.function.name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this.arn
}

# EventBridge invokes asynchronously: no Lambda-side retries of a scheduled run either.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = var.function.name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}
