# Identity on $connect (var.auth_mode): the REQUEST authorizer verifies an OpenID Connect JWT from
# ?token= against its issuer's signing keys (JWKS, fetched over HTTPS and cached by the function)
# and the Origin header against allowed_origins. It calls no AWS API, so its role has nothing but
# its log group (and X-Ray when tracing is Active).
#
#   none     no authorizer (dev only: prod refuses it); $connect still checks Origin.
#   oidc     any OpenID Connect issuer: oidc_issuer_url, oidc_audience (and optionally oidc_jwks_url).
#   cognito  a Cognito user pool, a public app client (authorization code + PKCE, no secret) and a
#            hosted-UI domain, created by the PRIMARY region's apply (module.cognito). The SECONDARY
#            creates none: it looks the primary's pool and client up (data sources with the
#            provider's per-resource region argument) and accepts the same tokens.
#
# Trade-off of one user pool: tokens are verified in either region (the authorizer only needs the
# JWKS, which it caches), but signing in and refreshing tokens go to the primary region's Cognito.
# While that region is down, connected users and users holding a valid token reconnect to the
# secondary fine; a user who must sign in again waits for the primary. Cognito has no managed
# multi-region user pool; a second pool would mean a second identity per user.

locals {
  auth_on      = var.auth_mode != "none"
  cognito      = var.auth_mode == "cognito"
  cognito_name = local.name_prefix
  # Deterministic, so that the secondary can name the primary's hosted UI without reading it.
  cognito_domain_prefix = coalesce(var.cognito.domain_prefix, "${local.name_prefix}-${local.account_id}")

  # SECONDARY: the primary's pool (exactly one of that name) and its web client, when they exist.
  primary_pool_ids  = try(data.aws_cognito_user_pools.primary[0].ids, [])
  primary_pool_id   = length(local.primary_pool_ids) == 1 ? local.primary_pool_ids[0] : null
  primary_clients   = one(data.aws_cognito_user_pool_clients.primary[*])
  primary_client_id = try(local.primary_clients.client_ids[index(local.primary_clients.client_names, "${local.cognito_name}-web")], null)
  cognito_issuer    = local.is_primary ? one(module.cognito[*].issuer) : (local.primary_pool_id == null ? null : "https://cognito-idp.${var.primary_region}.amazonaws.com/${local.primary_pool_id}")
  cognito_client_id = local.is_primary ? one(module.cognito[*].client_id) : local.primary_client_id
  cognito_hosted_ui = local.cognito ? "https://${local.cognito_domain_prefix}.auth.${var.primary_region}.amazoncognito.com" : null
  # The primary creates what it trusts; the secondary must have found it.
  cognito_configured = local.is_primary || (local.primary_pool_id != null && local.primary_client_id != null)

  # What the authorizer verifies (AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL); "" with auth_mode none.
  auth_issuer = (var.auth_mode == "cognito"
    ? (local.cognito_issuer == null ? "" : local.cognito_issuer)
    : (var.auth_mode == "oidc" && var.oidc_issuer_url != null ? var.oidc_issuer_url : "")
  )
  auth_audience = (var.auth_mode == "cognito"
    ? (local.cognito_client_id == null ? "" : local.cognito_client_id)
    : (var.auth_mode == "oidc" && var.oidc_audience != null ? var.oidc_audience : "")
  )
  # Cognito publishes its keys at <issuer>/.well-known/jwks.json; for oidc the discovery document
  # says where unless oidc_jwks_url is set. Whether it is set is known at plan time (auth_jwks_set),
  # even while the primary's new pool id is not.
  auth_jwks_url = (var.auth_mode == "cognito"
    ? (local.is_primary ? one(module.cognito[*].jwks_url) : (local.cognito_issuer == null ? null : "${local.cognito_issuer}/.well-known/jwks.json"))
    : (var.auth_mode == "oidc" ? var.oidc_jwks_url : null)
  )
  auth_jwks_set = local.cognito || (var.auth_mode == "oidc" && var.oidc_jwks_url != null)
}

module "cognito" {
  source = "./modules/cognito"
  count  = local.cognito && local.is_primary ? 1 : 0

  name                   = local.cognito_name
  domain_prefix          = local.cognito_domain_prefix
  callback_urls          = var.cognito.callback_urls
  logout_urls            = var.cognito.logout_urls
  token_validity_minutes = var.cognito.token_validity_minutes
  refresh_token_days     = var.cognito.refresh_token_days
  self_sign_up           = var.cognito.self_sign_up
  deletion_protection    = var.deletion_protection
}

# SECONDARY: the primary's user pool by name. The lookup never fails (an empty list when the pool
# is missing), so the guard can say "apply the primary first" and a destroy still works.
data "aws_cognito_user_pools" "primary" {
  count = local.cognito && !local.is_primary ? 1 : 0

  region = var.primary_region
  name   = local.cognito_name
}

data "aws_cognito_user_pool_clients" "primary" {
  count = local.primary_pool_id == null ? 0 : 1

  region       = var.primary_region
  user_pool_id = local.primary_pool_id
}
