# One-time, per account and region: the API Gateway account setting that lets API Gateway write
# execution and access logs to CloudWatch Logs (WebSocket stage logging needs it). It is
# account-wide (every API of every stack in the region uses it), so no environment stack owns
# it: `make destroy` of dev or prod never changes it. This state refuses to be destroyed.

provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = merge(var.tags, { Project = var.project, ManagedBy = "terraform", Stack = "bootstrap" })
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "ApiGatewayAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# IAM is global: the role name carries the region.
resource "aws_iam_role" "apigateway_logs" {
  name               = "${var.project}-apigateway-logs-${var.region}"
  description        = "API Gateway account role: writes API logs to CloudWatch Logs in ${var.region}"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_iam_role_policy_attachment" "apigateway_logs" {
  role       = aws_iam_role.apigateway_logs.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.apigateway_logs.arn

  depends_on = [aws_iam_role_policy_attachment.apigateway_logs]

  lifecycle {
    prevent_destroy = true
  }
}
