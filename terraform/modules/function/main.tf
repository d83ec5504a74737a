data "aws_region" "current" {}

locals {
  # IAM is global, Lambda is regional: the role name carries the region so two regions never collide.
  role_name = "${var.name}-${data.aws_region.current.region}"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment (log_retention_in_days): 365 days in prod, 14 in dev to limit cost.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.platform.log_retention_in_days
  kms_key_id        = var.platform.log_kms_key_arn
  tags              = var.platform.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously (API Gateway routes, authorizer) or best effort (warmer); a Lambda DLQ never fires for them. Failed deliveries go to the SQS redelivery queue from code; the stream consumer uses the ESM on-failure destination, the queue consumer (redeliver) the queue's redrive policy.
  #checkov:skip=CKV_AWS_117:The functions only call public AWS endpoints (DynamoDB, API Gateway, SQS, Lambda) and the token issuer's JWKS over HTTPS; a VPC would add NAT cost and cold-start latency without protecting anything.
  #checkov:skip=CKV_AWS_173:Environment variables hold no secrets (names, URLs, tuning, the public issuer and client id); tokens are verified with the issuer's public keys.
  #checkov:skip=CKV_AWS_272:Code signing is not used: the zips are built deterministically by build.py in CI and their SHA-256 is pinned through source_code_hash.
  function_name                  = var.name
  description                    = var.spec.description
  role                           = aws_iam_role.this.arn
  filename                       = var.package.zip_path
  source_code_hash               = var.package.sha256
  handler                        = var.package.handler
  runtime                        = var.platform.runtime
  architectures                  = [var.platform.architecture]
  memory_size                    = var.spec.memory_size
  timeout                        = var.spec.timeout
  reserved_concurrent_executions = var.spec.reserved_concurrency
  layers                         = var.platform.layers

  environment {
    variables = merge({ LOG_LEVEL = var.platform.log_level }, var.platform.environment, var.spec.environment)
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.platform.log_level
    system_log_level      = "INFO" # keeps the platform REPORT lines (duration, memory)
  }

  tracing_config {
    mode = var.platform.tracing_mode
  }

  tags = var.platform.tags

  depends_on = [aws_iam_role_policy.this]
}
