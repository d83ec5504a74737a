# State of earlier layouts of this module, carried over so an existing deployment plans no
# replacement.

# The warmer used to be a module of its own around modules/function.
moved {
  from = module.warmer.module.function
  to   = module.functions["warmer"]
}

# The account-level API Gateway CloudWatch role and setting moved to the one-time bootstrap stack
# (terraform/bootstrap, `make bootstrap REGION=...`): an environment never owns account-wide
# settings. Forget them here without deleting anything; after `make bootstrap` points the account
# at its own role, the old role (<project>-apigateway-cloudwatch-<region>) can be deleted by hand.
removed {
  from = aws_api_gateway_account.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_iam_role_policy_attachment.apigateway_cloudwatch
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_iam_role.apigateway_cloudwatch
  lifecycle {
    destroy = false
  }
}
