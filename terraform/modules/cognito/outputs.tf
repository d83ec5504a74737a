output "user_pool_id" {
  description = "User pool id."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "User pool ARN."
  value       = aws_cognito_user_pool.this.arn
}

output "client_id" {
  description = "App client id: the `aud` of ID tokens and the `client_id` of access tokens (AUTH_AUDIENCE)."
  value       = aws_cognito_user_pool_client.this.id
}

output "issuer" {
  description = "Token issuer, https://cognito-idp.<region>.amazonaws.com/<pool id> (AUTH_ISSUER)."
  value       = local.issuer
}

output "jwks_url" {
  description = "The pool's signing keys: <issuer>/.well-known/jwks.json."
  value       = "${local.issuer}/.well-known/jwks.json"
}

output "hosted_ui_url" {
  description = "Hosted UI base URL, https://<prefix>.auth.<region>.amazoncognito.com (/oauth2/authorize, /oauth2/token, /logout)."
  value       = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${local.region}.amazoncognito.com"
}
