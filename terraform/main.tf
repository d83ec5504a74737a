data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name_prefix = "${var.project}-${var.environment}"
  stage_name  = coalesce(var.stage_name, var.environment)
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition

  # PRIMARY owns the table, the global table and the replica; SECONDARY only reads its replica.
  failover_role = coalesce(var.failover_role, var.region == var.primary_region ? "PRIMARY" : "SECONDARY")
  is_primary    = local.failover_role == "PRIMARY"
  two_regions   = var.secondary_region != null
  # The primary's apply adds the replica in the secondary region.
  has_replica = local.is_primary && local.two_regions
  # Custom domain: on when custom_domain is set. With two regions its name is the failover name
  # (PRIMARY/SECONDARY records, module.dns_failover); with one region a plain alias record.
  custom_domain = var.custom_domain != null
  dns_failover  = local.custom_domain && local.two_regions

  tags = merge(var.tags, {
    Project      = var.project
    Environment  = var.environment
    Region       = var.region
    FailoverRole = local.failover_role
    ManagedBy    = "terraform"
  })

  # Lambda packages from build.py's manifest; zip paths are relative to the manifest's folder.
  manifest_path = coalesce(var.manifest_path, "${path.root}/../dist/manifest.json")
  manifest      = jsondecode(file(local.manifest_path))
  packages = {
    for name, f in local.manifest.functions : name => {
      zip_path = abspath("${dirname(local.manifest_path)}/${f.zip}")
      handler  = f.handler
      sha256   = f.sha256
    }
  }

  # The table's key schema is shared with the local runtime.
  table_schema = jsondecode(file("${path.module}/modules/table/schema.json"))
  # SECONDARY: the replica, when it exists (the guard refuses a plan without it; a destroy goes on).
  replica_found = !local.is_primary && contains(try(data.aws_dynamodb_tables.this_region[0].names, []), local.name_prefix)
  replica       = one(data.aws_dynamodb_table.replica[*])
  table_name    = local.is_primary ? module.table[0].name : local.name_prefix
  table_arn     = local.is_primary ? module.table[0].arn : try(local.replica.arn, "arn:${local.partition}:dynamodb:${var.region}:${local.account_id}:table/${local.name_prefix}")
  # (placeholders only while the replica is missing: the guard refuses that plan; a destroy needs no values)
  table_stream_arn = local.is_primary ? module.table[0].stream_arn : try(local.replica.stream_arn, "${local.table_arn}/stream/missing")
  table_kms_arn    = local.is_primary ? module.table[0].kms_key_arn : try(local.replica.server_side_encryption[0].kms_key_arn, "arn:${local.partition}:kms:${var.region}:${local.account_id}:key/missing")
  # Read autoscaling of the replica (primary's apply): the table and every GSI.
  replica_read_resources = merge(
    { table = { resource_id = "table/${local.name_prefix}", dimension = "dynamodb:table:ReadCapacityUnits" } },
    { for g in try(local.table_schema.global_secondary_indexes, []) : "index-${g.name}" => {
      resource_id = "table/${local.name_prefix}/index/${g.name}", dimension = "dynamodb:index:ReadCapacityUnits" }
    },
  )
  table_index_arns = [for g in try(local.table_schema.global_secondary_indexes, []) : "${local.table_arn}/index/${g.name}"]

  authorizer_identity_sources = ["route.request.querystring.token", "route.request.header.Origin"]

  # AWS's public Powertools for AWS Lambda (Python) v3 layer for the manifest's runtime and
  # architecture (python3.13 + arm64 -> AWSLambdaPowertoolsPythonV3-python313-arm64), published by
  # AWS account 017000801446 in every commercial region; var.powertools_layer_arn overrides it.
  powertools_layer_arn = coalesce(var.powertools_layer_arn, join(":", [
    "arn", local.partition, "lambda", var.region, "017000801446", "layer",
    "AWSLambdaPowertoolsPythonV3-${replace(local.manifest.runtime, ".", "")}-${local.manifest.architecture}",
    tostring(var.powertools_layer_version),
  ]))
  metrics_namespace = "DynamoWave"
}

# Refuse plans that break the contracts, before anything is created.
resource "terraform_data" "guard" {
  input = {
    environment   = var.environment
    region        = var.region
    failover_role = local.failover_role
  }

  lifecycle {
    precondition {
      condition     = terraform.workspace == var.environment
      error_message = "Workspace \"${terraform.workspace}\" does not match environment \"${var.environment}\": run through make (it selects the workspace ENV)."
    }
    precondition {
      condition     = local.is_primary || local.replica_found
      error_message = "Table ${local.name_prefix} has no replica in ${var.region} yet: apply the primary region first: make apply ENV=${var.environment} REGION=${var.primary_region}"
    }
    precondition {
      condition     = local.is_primary || !local.cognito || local.cognito_configured
      error_message = "auth_mode = cognito: the primary region ${var.primary_region} holds no user pool ${local.cognito_name} with a client ${local.cognito_name}-web yet (or several pools of that name): apply the primary region first: make apply ENV=${var.environment} REGION=${var.primary_region}"
    }
    precondition {
      condition     = local.is_primary == (var.region == var.primary_region)
      error_message = "failover_role PRIMARY must be used in primary_region and SECONDARY in secondary_region."
    }
    precondition {
      condition     = var.environment != "prod" || (var.auth_mode != "none" && var.deletion_protection)
      error_message = "prod requires auth_mode = oidc or cognito and deletion_protection = true."
    }
    precondition {
      condition     = length(setsymmetricdifference(keys(local.manifest.functions), keys(local.function_specs))) == 0
      error_message = "dist/manifest.json functions (${join(", ", sort(keys(local.manifest.functions)))}) differ from the Terraform functions (${join(", ", sort(keys(local.function_specs)))})."
    }
    precondition {
      condition     = length(local.routes) > 0 && alltrue([for r in values(local.routes) : contains(keys(local.manifest.functions), r.function)])
      error_message = "dist/manifest.json must list the WebSocket routes, each served by one of its functions: rebuild it (make build)."
    }
    precondition {
      condition     = local.manifest.architecture == "arm64" && startswith(local.manifest.runtime, "python3.")
      error_message = "The manifest must describe arm64 Python packages."
    }
    precondition {
      condition     = alltrue([for k, n in local.warm_targets : contains(local.warmable_functions, k) && n <= coalesce(local.function_specs[k].reserved_concurrency, n)])
      error_message = "Only ${join(", ", local.warmable_functions)} can be warmed, and a function's warm_instances must not exceed its reserved concurrency (when it has one)."
    }
  }
}

module "table" {
  source = "./modules/table"
  count  = local.is_primary ? 1 : 0

  name                        = local.name_prefix
  autoscaling                 = var.table_autoscaling
  deletion_protection         = var.deletion_protection
  kms_deletion_window_in_days = var.kms_deletion_window_in_days
}

# The replica in the secondary region (primary's apply) and the secondary's read of it:
# global_table.tf.

# The delivery DLQ, the redelivery queue and the redeliver function's event source mapping:
# redelivery.tf. The sharded fan-out queue, its DLQ and fanout_worker's mapping: fanout.tf.
# Identity (authorizer settings, the Cognito user pool): auth.tf. The dashboard: dashboard.tf.

module "logs_kms" {
  source = "./modules/kms_key"

  alias                   = "${local.name_prefix}-logs"
  description             = "DynamoWave ${var.environment} log groups (Lambda, API access and execution logs)"
  deletion_window_in_days = var.kms_deletion_window_in_days
  service_principal_statements = [{
    sid      = "CloudWatchLogsOwnLogGroupsOnly"
    services = ["logs.${var.region}.amazonaws.com"]
    actions  = ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    conditions = [{
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/lambda/${local.name_prefix}-*",
        "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/apigateway/${local.name_prefix}/*",
        "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:API-Gateway-Execution-Logs_${module.websocket_api.api_id}/${local.stage_name}",
      ]
    }]
  }]
}

module "functions" {
  source   = "./modules/function"
  for_each = local.function_specs

  name    = local.function_names[each.key]
  package = local.packages[each.key]
  spec    = each.value
  platform = {
    runtime               = local.manifest.runtime
    architecture          = local.manifest.architecture
    log_level             = var.log_level
    tracing_mode          = var.tracing_mode
    log_retention_in_days = var.log_retention_in_days
    log_kms_key_arn       = module.logs_kms.arn
    layers                = [local.powertools_layer_arn]
    # Powertools reads these itself: metrics land in namespace DynamoWave with dimension
    # service = <project>-<environment> (the dashboard's dimension).
    environment = {
      POWERTOOLS_SERVICE_NAME      = local.name_prefix
      POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
    }
  }
}

module "warmer" {
  source = "./modules/schedule"

  name                = local.function_names["warmer"]
  function            = { name = module.functions["warmer"].function_name, arn = module.functions["warmer"].arn }
  schedule_expression = var.warmer.schedule
  enabled             = var.warmer.enabled
}

module "websocket_api" {
  source = "./modules/websocket_api"

  name       = local.name_prefix
  stage_name = local.stage_name
  routes = {
    for key, r in local.routes : key => {
      function_name  = module.functions[r.function].function_name
      invoke_arn     = module.functions[r.function].invoke_arn
      two_way        = r.two_way
      operation_name = r.operation
    }
  }
  # The authorizer runs only when both identity sources are present (else API Gateway answers 401
  # itself): the token, and the Origin it checks against allowed_origins.
  authorizer = local.auth_on ? {
    function_name    = module.functions["authorizer"].function_name
    invoke_arn       = module.functions["authorizer"].invoke_arn
    identity_sources = local.authorizer_identity_sources
  } : null
  throttling = {
    default = var.default_throttling
    routes  = var.route_throttling
  }
  logs = {
    execution_logging_level = var.execution_logging_level
    retention_in_days       = var.log_retention_in_days
    kms_key_arn             = module.logs_kms.arn
  }
  custom_domain = local.custom_domain ? {
    domain_name = var.custom_domain.name
    zone_id     = var.custom_domain.hosted_zone_id
    # With two regions the failover records own the name (module.dns_failover).
    create_alias_record = !local.dns_failover
    # Both regions' certificates for the name share one validation record: the primary's state
    # owns it, the secondary's certificate waits for it.
    create_validation_records = local.is_primary
  } : null
}

module "alarms" {
  source = "./modules/alarms"

  name_prefix = local.name_prefix
  watch = {
    function_names        = [for f in module.functions : f.function_name]
    api_id                = module.websocket_api.api_id
    stage_name            = module.websocket_api.stage_name
    table_name            = local.table_name
    dlq_name              = module.dlq.name
    redelivery_queue_name = module.redelivery_queue.name
    fanout_queue_name     = module.fanout_queue.name
    fanout_dlq_name       = module.fanout_dlq.name
  }
  thresholds = {
    dlq_age        = var.queue_age_alarms.dlq
    redelivery_age = local.redelivery_age_alarm_seconds
    fanout_age     = local.fanout_age_alarm_seconds
    fanout_dlq_age = var.queue_age_alarms.fanout_dlq
  }
  alarm_emails = var.alarm_emails
}
