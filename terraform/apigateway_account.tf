# WebSocket stage logging (access and execution logs) needs the account-level API Gateway
# CloudWatch Logs role in this region. It is a per-account, per-region singleton: let exactly one
# state manage it (manage_apigateway_account = true), or set it once by hand (see README).

data "aws_iam_policy_document" "apigateway_assume" {
  count = var.manage_apigateway_account ? 1 : 0

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
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  count = var.manage_apigateway_account ? 1 : 0

  name               = "${var.project}-apigateway-cloudwatch-${var.region}"
  description        = "API Gateway account role: writes API logs to CloudWatch Logs in ${var.region}"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume[0].json
}

resource "aws_iam_role_policy_attachment" "apigateway_cloudwatch" {
  count = var.manage_apigateway_account ? 1 : 0

  role       = aws_iam_role.apigateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_apigateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.apigateway_cloudwatch]
}
