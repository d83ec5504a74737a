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
  warmable_functions = sort(setsubtract(keys(local.manifest.functions), ["warmer", "fanout", "fanout_worker", "redeliver"]))

  env_table = { TABLE_NAME = local.table_name }
  # Every function that posts to connections (send_message, fanout, redeliver).
  env_delivery = {
    WEBSOCKET_API_ID   = module.websocket_api.api_id
    WEBSOCKET_STAGE    = local.stage_name
    FANOUT_CONCURRENCY = tostring(var.app_settings.fanout_concurrency)
    DELIVERY_BUDGET_MS = tostring(var.app_settings.delivery_budget_ms)
  }
  # The producers (send_message, fanout, fanout_worker) park a delivery that still fails on the
  # redelivery queue (redelivery.tf); nothing but SQS's redrive writes to the delivery DLQ.
  env_redelivery = { REDELIVERY_QUEUE_URL = module.redelivery_queue.url }
  # The senders (send_message, fanout) put the recipients of a room above the threshold on the
  # fan-out queue in shards (fanout.tf); fanout_worker delivers them.
  env_sharding = {
    FANOUT_QUEUE_URL       = module.fanout_queue.url
    FANOUT_SHARD_THRESHOLD = tostring(var.fanout_sharding.shard_threshold)
    FANOUT_SHARD_SIZE      = tostring(var.fanout_sharding.shard_size)
  }
  # Browser origins allowed to open a socket (the authorizer with auth on, $connect always).
  env_origins = { ALLOWED_ORIGINS = join(",", var.allowed_origins) }
  # The authorizer's token checks (auth.tf): issuer, audience, keys, claims, lifetime.
  env_authorizer = merge(
    {
      AUTH_MODE                  = var.auth_mode
      AUTH_ISSUER                = local.auth_issuer
      AUTH_AUDIENCE              = local.auth_audience
      AUTH_NAME_CLAIM            = var.auth_name_claim
      MAX_TOKEN_LIFETIME_SECONDS = tostring(var.max_token_lifetime_seconds)
    },
    local.env_origins,
    local.auth_jwks_set ? { AUTH_JWKS_URL = local.auth_jwks_url } : {},
    local.cognito ? { AUTH_TOKEN_USE = var.auth_token_use } : {},
  )

  # --- policy statement builders (resources scoped to exact ARNs) ---
  # A key may be used only through its service in this region.
  via = { for s in ["dynamodb", "sqs"] : s => [{
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
    for name, q in { RedeliveryQueue = module.redelivery_queue, StreamFailureQueue = module.fanout_failures, FanoutQueue = module.fanout_queue } : name => [
      { sid = "SendTo${name}", actions = ["sqs:SendMessage"], resources = [q.arn], conditions = [] },
      { sid = "${name}KeyThroughSqs", actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [q.kms_key_arn], conditions = local.via.sqs },
    ]
  }
  # The item actions each function's code calls (tests/terraform/test_least_privilege.py derives
  # them from functions/chat/store). TransactWriteItems has no IAM action of its own: each item of
  # a transaction needs its Put/Update/Delete/ConditionCheck action. Removing a connection
  # (Connections.remove: $disconnect, and pruning a connection that answered 410) reads it, deletes
  # it with its memberships and frees its slot in the user's USER# item (UpdateItem).
  table_actions = {
    connect       = ["GetItem", "PutItem", "UpdateItem"]                        # connection + first membership + a slot in the USER# item (read when full)
    disconnect    = ["GetItem", "DeleteItem", "UpdateItem"]                     # Connections.remove
    send_message  = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"] # send rate (conditional update), membership, message (+ idempotency record), members, prune
    rooms         = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"] # join/leave (membership + the connection's room set), history
    fanout        = ["GetItem", "Query", "DeleteItem", "UpdateItem"]            # room members, prune
    fanout_worker = ["GetItem", "DeleteItem", "UpdateItem"]                     # prune
    redeliver     = ["GetItem", "DeleteItem", "UpdateItem"]                     # is the connection still there; prune
    health        = ["GetItem"]
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
    authorizer = { memory_size = 128, timeout = 5, p99_ms = 100, warm_instances = 2 }
    connect    = { memory_size = 256, timeout = 10, p99_ms = 200, warm_instances = 2 }
    default    = { memory_size = 128, timeout = 5, p99_ms = 50, warm_instances = 0 }
    disconnect = { memory_size = 256, timeout = 10, p99_ms = 200, warm_instances = 0 }
    fanout     = { memory_size = 512, timeout = 60, p99_ms = 5500, warm_instances = 0 }
    # Each record is one shard of up to FANOUT_SHARD_SIZE ids, delivered within the delivery budget.
    fanout_worker = { memory_size = 512, timeout = 60, p99_ms = 5500, warm_instances = 0 }
    health        = { memory_size = 128, timeout = 5, p99_ms = 100, warm_instances = 0 }
    ping          = { memory_size = 128, timeout = 5, p99_ms = 50, warm_instances = 1 }
    redeliver     = { memory_size = 256, timeout = 30, p99_ms = 5500, warm_instances = 0 }
    rooms         = { memory_size = 256, timeout = 10, p99_ms = 300, warm_instances = 1 }
    send_message  = { memory_size = 512, timeout = 15, p99_ms = 5500, warm_instances = 2 }
    warmer        = { memory_size = 256, timeout = 30, p99_ms = 1000, warm_instances = 0 }
  }

  # What each function runs with and may do.
  function_access = {
    connect = {
      description = "$connect: records the connection (TTL) and joins its room"
      environment = merge(local.env_table, local.env_origins, {
        CONNECTION_TTL_SECONDS   = tostring(var.app_settings.connection_ttl_seconds)
        MAX_CONNECTIONS_PER_USER = tostring(var.limits.max_connections_per_user)
        AUTH_MODE                = var.auth_mode
      })
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
      description = "sendMessage: persist, ack, fan out to the room in this region (big rooms in shards)"
      environment = merge(local.env_table, local.env_delivery, local.env_redelivery, local.env_sharding, {
        SEND_RATE_PER_SECOND = tostring(var.limits.send_rate_per_second)
        SEND_BURST           = tostring(var.limits.send_burst)
      })
      policy_statements = concat(
        local.table_statements.send_message,
        [local.manage_connections],
        local.queue_send.RedeliveryQueue,
        local.queue_send.FanoutQueue,
      )
    }
    rooms = {
      description = "joinRoom / leaveRoom / history"
      environment = merge(local.env_table, {
        CONNECTION_TTL_SECONDS   = tostring(var.app_settings.connection_ttl_seconds)
        MAX_ROOMS_PER_CONNECTION = tostring(var.limits.max_rooms_per_connection)
      })
      policy_statements = local.table_statements.rooms
    }
    authorizer = {
      description = "REQUEST authorizer on $connect: OpenID Connect JWT in ?token= (JWKS over HTTPS), Origin"
      environment = local.env_authorizer
      # No AWS API at all: the issuer's keys come over HTTPS from its JWKS URL.
      policy_statements = []
    }
    fanout = {
      description = "Stream consumer: delivers messages from other regions to this region's members (big rooms in shards)"
      environment = merge(local.env_table, local.env_delivery, local.env_redelivery, local.env_sharding)
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
        local.queue_send.FanoutQueue,
      )
    }
    fanout_worker = {
      description = "Fan-out queue consumer: delivers one shard of a big room's recipients per record"
      # No FANOUT_QUEUE_URL: it never enqueues; a shard it cannot settle is reported back to SQS.
      environment = merge(local.env_table, local.env_delivery, local.env_redelivery)
      policy_statements = concat(
        local.table_statements.fanout_worker,
        [
          local.manage_connections,
          {
            # The event source mapping polls with the function's role: exactly the fan-out queue.
            sid        = "ConsumeFanoutQueue"
            actions    = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
            resources  = [module.fanout_queue.arn]
            conditions = []
          },
          { sid = "FanoutQueueKeyThroughSqs", actions = ["kms:Decrypt"], resources = [module.fanout_queue.kms_key_arn], conditions = local.via.sqs },
        ],
        local.queue_send.RedeliveryQueue,
      )
    }
    redeliver = {
      description = "Redelivery queue consumer: one more attempt at deliveries that failed within their invocation's budget"
      # No REDELIVERY_QUEUE_URL: it never sends; a record that fails again is reported back to SQS.
      # REDELIVERY_MAX_RECEIVE_COUNT: the redrive policy's count (the last receive knows it is the last).
      environment = merge(local.env_table, local.env_delivery, { REDELIVERY_MAX_RECEIVE_COUNT = tostring(var.redelivery.max_receive_count) })
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
