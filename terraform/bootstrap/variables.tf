variable "region" {
  description = "Region whose account-level API Gateway setting this state owns (one bootstrap per account and region)."
  type        = string
}

variable "project" {
  description = "Name prefix of the role."
  type        = string
  default     = "dynamowave"
}

variable "allowed_account_ids" {
  description = "Optional guard: the AWS account ids this bootstrap may be applied to."
  type        = list(string)
  default     = null
}

variable "tags" {
  description = "Tags on the role."
  type        = map(string)
  default     = {}
}
