# The Lambda functions of dist/manifest.json (functions/chat/routes.py is the one list): what each
# one runs with and may do. Per-function settings are keyed by manifest function name;
# terraform_data.guard refuses a plan where the manifest and these specs differ. Every function,
# the warmer included, is built by module.functions; the warmer's schedule is module.warmer.

locals {
  # Route key => { function, operation, two_way } straight from the manifest: Terraform never
  # lists the routes itself.
  routes = try(local.manifest.routes, {})

  # Deployed names and ARNs are derived from the manifest names, so the warmer (one instance of
  # module.functions) can name its targets without referring to module.functions itself.
  function_names = { for k in keys(local.manifest.functions) : k => "${local.name_prefix}-${replace(k, "_", "-")}" }
  function_arns  = { for k, n in local.function_names : k => "arn:${local.partition}:lambda:${var.region}:${local.account_id}:function:${n}" }
  # The warmer invokes any function but itself and the queue and stream consumers (driven by their
  # event source mappings, never on a latency-critical path).
  warmable_functions = sort(setsubtract(keys(local.manifest.functions), ["warmer", "fanout", "redeliver"]))

  env_table = { TABLE_NAME = local.table_name }
  # Every function that posts to connections (send_message, fanout, redeliver).
  env_delivery = {
    WEBSOCKET_API_ID   = module.websocket_api.api_id
    WEBSOCKET_STAGE    = local.stage_name
    FANOUT_CONCURRENCY = tostring(var.app_settings.fanout_concurrency)
    DELIVERY_BUDGET_MS = tostring(var.app_settings.delivery_budget_ms)
  }
  # The producers (send_message, fanout) park a delivery that still fails on the redelivery queue
  # (redelivery.tf); nothing but SQS's redrive writes to the delivery DLQ.
  env_redelivery = { REDELIVERY_QUEUE_URL = module.redelivery_queue.url }

  # --- policy statement builders (resources scoped to exact ARNs) ---
  # A key may be used only through its service in this region.
  via = { for s in ["dynamodb", "sqs", "ssm"] : s => [{
    test     = "StringEquals"
    variable = "kms:ViaService"
    values   = ["${s}.${var.region}.amazonaws.com"]
  }] }
  manage_connections = {
    sid        = "PostToOwnRegionConnections"
    actions    = ["execute-api:ManageConnections"]
    resources  = ["${module.websocket_api.connections_arn_prefix}/POST/@connections/*"]
    conditions = []
  }
  # Producers of a KMS-encrypted queue: SendMessage on it, its key through SQS.
  queue_send = {
    for name, q in { RedeliveryQueue = module.redelivery_queue, StreamFailureQueue = module.fanout_failures } : name => [
      { sid = "SendTo${name}", actions = ["sqs:SendMessage"], resources = [q.arn], conditions = [] },
      { sid = "${name}KeyThroughSqs", actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [q.kms_key_arn], conditions = local.via.sqs },
    ]
  }
  table_actions = {
    connect      = ["PutItem"]
    disconnect   = ["GetItem", "DeleteItem"]
    send_message = ["GetItem", "PutItem", "Query", "DeleteItem"]
    rooms        = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"]
    fanout       = ["GetItem", "Query", "DeleteItem"]
    redeliver    = ["GetItem", "DeleteItem"] # is the connection still there; prune it on 410 (as disconnect)
    health       = ["GetItem"]
  }
  table_statements = {
    for fn, actions in local.table_actions : fn => [
      {
        sid        = "TableItems"
        actions    = [for a in actions : "dynamodb:${a}"]
        resources  = concat([local.table_arn], local.table_index_arns)
        conditions = []
      },
      { sid = "TableKeyThroughDynamoDB", actions = ["kms:Decrypt"], resources = [local.table_kms_arn], conditions = local.via.dynamodb },
    ]
  }

  # Sizing: memory (MB), timeout (s), the expected p99 duration (ms: sizes reserved concurrency,
  # see "Concurrency" in terraform/README.md; a function that delivers may run for its whole
  # delivery budget), and warm-up instances per warmer run. Reserved concurrency is null
  # (unreserved) unless var.functions reserves it: a brand-new account has a quota of 10.
  function_sizing = {
    authorizer   = { memory_size = 128, timeout = 5, p99_ms = 100, warm_instances = 2 }
    connect      = { memory_size = 256, timeout = 10, p99_ms = 200, warm_instances = 2 }
    default      = { memory_size = 128, timeout = 5, p99_ms = 50, warm_instances = 0 }
    disconnect   = { memory_size = 256, timeout = 10, p99_ms = 200, warm_instances = 0 }
    fanout       = { memory_size = 512, timeout = 60, p99_ms = 5500, warm_instances = 0 }
    health       = { memory_size = 128, timeout = 5, p99_ms = 100, warm_instances = 0 }
    ping         = { memory_size = 128, timeout = 5, p99_ms = 50, warm_instances = 1 }
    redeliver    = { memory_size = 256, timeout = 30, p99_ms = 5500, warm_instances = 0 }
    rooms        = { memory_size = 256, timeout = 10, p99_ms = 300, warm_instances = 1 }
    send_message = { memory_size = 512, timeout = 15, p99_ms = 5500, warm_instances = 2 }
    warmer       = { memory_size = 256, timeout = 30, p99_ms = 1000, warm_instances = 0 }
  }

  # What each function runs with and may do.
  function_access = {
    connect = {
      description       = "$connect: records the connection (TTL) and joins its room"
      environment       = merge(local.env_table, { CONNECTION_TTL_SECONDS = tostring(var.app_settings.connection_ttl_seconds) })
      policy_statements = local.table_statements.connect
    }
    disconnect = {
      description       = "$disconnect: removes the connection and its memberships"
      environment       = local.env_table
      policy_statements = local.table_statements.disconnect
    }
    default = {
      description       = "$default: error frames for unknown actions and bad JSON"
      environment       = {}
      policy_statements = []
    }
    ping = {
      description       = "ping: pong with the region"
      environment       = { APP_VERSION = var.app_settings.app_version }
      policy_statements = []
    }
    send_message = {
      description       = "sendMessage: persist, ack, fan out to the room in this region"
      environment       = merge(local.env_table, local.env_delivery, local.env_redelivery)
      policy_statements = concat(local.table_statements.send_message, [local.manage_connections], local.queue_send.RedeliveryQueue)
    }
    rooms = {
      description       = "joinRoom / leaveRoom / history"
      environment       = merge(local.env_table, { CONNECTION_TTL_SECONDS = tostring(var.app_settings.connection_ttl_seconds) })
      policy_statements = local.table_statements.rooms
    }
    authorizer = {
      description = "REQUEST authorizer on $connect (HS256 token in ?token=)"
      environment = {
        AUTH_SECRET_PARAMETER = aws_ssm_parameter.auth_secret.name
        AUTH_ISSUER           = var.auth_issuer
      }
      policy_statements = [
        {
          sid        = "ReadTokenSecret"
          actions    = ["ssm:GetParameter"]
          resources  = [aws_ssm_parameter.auth_secret.arn]
          conditions = []
        },
        { sid = "SecretKeyThroughSsm", actions = ["kms:Decrypt"], resources = [module.auth_kms.arn], conditions = local.via.ssm },
      ]
    }
    fanout = {
      description = "Stream consumer: delivers messages from other regions to this region's members"
      environment = merge(local.env_table, local.env_delivery, local.env_redelivery)
      policy_statements = concat(
        local.table_statements.fanout,
        [
          {
            # The event source mapping polls with the function's role: exactly this region's stream.
            sid        = "ReadTableStream"
            actions    = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
            resources  = [local.table_stream_arn]
            conditions = []
          },
          {
            sid        = "ListStreams"
            actions    = ["dynamodb:ListStreams"]
            resources  = ["*"] # required: dynamodb:ListStreams supports no resource-level permissions
            conditions = []
          },
          local.manage_connections,
        ],
        # The mapping's on-failure destination is sent with the function's role too.
        local.queue_send.StreamFailureQueue,
        local.queue_send.RedeliveryQueue,
      )
    }
    redeliver = {
      description = "Redelivery queue consumer: one more attempt at deliveries that failed within their invocation's budget"
      # No REDELIVERY_QUEUE_URL: it never sends; a record that fails again is reported back to SQS.
      environment = merge(local.env_table, local.env_delivery)
      policy_statements = concat(
        local.table_statements.redeliver,
        [
          local.manage_connections,
          {
            # The event source mapping polls with the function's role: exactly the redelivery queue
            # (what AWSLambdaSQSQueueExecutionRole grants; failed records just wait out the visibility timeout).
            sid        = "ConsumeRedeliveryQueue"
            actions    = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
            resources  = [module.redelivery_queue.arn]
            conditions = []
          },
          { sid = "RedeliveryQueueKeyThroughSqs", actions = ["kms:Decrypt"], resources = [module.redelivery_queue.kms_key_arn], conditions = local.via.sqs },
        ],
      )
    }
    health = {
      description       = "GET /health: table reachable, region and version"
      environment       = merge(local.env_table, { APP_VERSION = var.app_settings.app_version })
      policy_statements = local.table_statements.health
    }
    warmer = {
      description = "Keeps the critical DynamoWave functions warm (best effort; schedule: module.warmer)"
      # The warmer reads WARM_TARGETS = {"<deployed function name>": N}.
      environment = { WARM_TARGETS = jsonencode({ for k, n in local.warm_targets : local.function_names[k] => n }) }
      # Exactly the target functions, nothing else.
      policy_statements = [{
        sid        = "InvokeWarmTargets"
        actions    = ["lambda:InvokeFunction"]
        resources  = sort([for k in keys(local.warm_targets) : local.function_arns[k]])
        conditions = []
      }]
    }
  }

  # The sizing defaults, overridden per function by var.functions (null = keep the default). Apart
  # from function_specs so that what depends on a size (the redelivery queue's visibility timeout)
  # does not depend on the environments that name it.
  function_sizes = {
    for k, s in local.function_sizing : k => merge({
      for field in ["memory_size", "timeout", "p99_ms", "warm_instances"] : field => coalesce(try(var.functions[k][field], null), s[field])
      }, {
      reserved_concurrency = try(var.functions[k].reserved_concurrency, null)
    })
  }
  function_specs = { for k, size in local.function_sizes : k => merge(local.function_access[k], size) }
  # Function => N concurrent warm-up invocations per warmer run (the warmer's WARM_TARGETS).
  warm_targets = { for k, s in local.function_specs : k => s.warm_instances if s.warm_instances > 0 }
}
