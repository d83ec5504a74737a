variable "name" {
  description = "User pool name, e.g. `dynamowave-prod` (the app client is `<name>-web`)."
  type        = string
}

variable "domain_prefix" {
  description = "Hosted-UI domain prefix: https://<prefix>.auth.<region>.amazoncognito.com (unique per region; lowercase letters, digits, '-'; no aws/amazon/cognito). The root module validates it."
  type        = string
}

variable "callback_urls" {
  description = "Where the hosted UI may return the authorization code (at least one). The root module validates the URLs."
  type        = list(string)

  validation {
    condition     = length(var.callback_urls) > 0
    error_message = "callback_urls needs at least one URL."
  }
}

variable "logout_urls" {
  description = "Where the hosted UI may send the browser after sign-out."
  type        = list(string)
  default     = []
}

variable "token_validity_minutes" {
  description = "Lifetime of ID and access tokens in minutes (5-1440)."
  type        = number
  default     = 60

  validation {
    condition     = var.token_validity_minutes >= 5 && var.token_validity_minutes <= 1440
    error_message = "token_validity_minutes must be 5-1440."
  }
}

variable "refresh_token_days" {
  description = "Lifetime of refresh tokens in days (1-3650)."
  type        = number
  default     = 30

  validation {
    condition     = var.refresh_token_days >= 1 && var.refresh_token_days <= 3650
    error_message = "refresh_token_days must be 1-3650."
  }
}

variable "self_sign_up" {
  description = "Whether users may sign themselves up through the hosted UI (false: administrators create users)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse to delete the user pool (ACTIVE) while true."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the user pool."
  type        = map(string)
  default     = {}
}
