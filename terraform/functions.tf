# The ten Lambda functions of functions/README.md: what each one runs with and may do.
# Keys are the manifest's function names (dist/manifest.json); terraform_data.guard refuses a
# plan where the two sets differ. Everything except the warmer is built by module.functions;
# the warmer (with its EventBridge schedule) by module.warmer.

locals {
  # Route key => function (functions/README.md). All but $connect/$disconnect are two-way.
  routes = {
    "$connect"    = { function = "connect", two_way = false, operation = "Connect" }
    "$disconnect" = { function = "disconnect", two_way = false, operation = "Disconnect" }
    "$default"    = { function = "default", two_way = true, operation = "Default" }
    "ping"        = { function = "ping", two_way = true, operation = "Ping" }
    "sendMessage" = { function = "send_message", two_way = true, operation = "SendMessage" }
    "joinRoom"    = { function = "rooms", two_way = true, operation = "JoinRoom" }
    "leaveRoom"   = { function = "rooms", two_way = true, operation = "LeaveRoom" }
    "history"     = { function = "rooms", two_way = true, operation = "History" }
  }

  env_table = { TABLE_NAME = local.table_name }
  env_delivery = {
    DLQ_URL            = module.dlq.url
    WEBSOCKET_API_ID   = module.websocket_api.api_id
    WEBSOCKET_STAGE    = local.stage_name
    FANOUT_CONCURRENCY = tostring(var.fanout_concurrency)
    DELIVERY_BUDGET_MS = tostring(var.delivery_budget_ms)
  }

  # --- policy statement builders (resources scoped to exact ARNs) ---
  table_key_decrypt = {
    sid       = "TableKeyThroughDynamoDB"
    actions   = ["kms:Decrypt"]
    resources = [local.table_kms_arn]
    conditions = [{
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }]
  }
  manage_connections = {
    sid        = "PostToOwnRegionConnections"
    actions    = ["execute-api:ManageConnections"]
    resources  = ["${module.websocket_api.connections_arn_prefix}/POST/@connections/*"]
    conditions = []
  }
  dlq_send = [
    {
      sid        = "SendToDeliveryDlq"
      actions    = ["sqs:SendMessage"]
      resources  = [module.dlq.arn]
      conditions = []
    },
    {
      sid       = "DlqKeyThroughSqs"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [module.dlq.kms_key_arn]
      conditions = [{
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${var.region}.amazonaws.com"]
      }]
    },
  ]
  table_actions = {
    connect      = ["PutItem"]
    disconnect   = ["GetItem", "DeleteItem"]
    send_message = ["GetItem", "PutItem", "Query", "DeleteItem"]
    rooms        = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"]
    fanout       = ["GetItem", "Query", "DeleteItem"]
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
      local.table_key_decrypt,
    ]
  }

  function_defaults = {
    connect = {
      description          = "$connect: records the connection (TTL) and joins its room"
      memory_size          = 256
      timeout              = 10
      reserved_concurrency = 20
      environment          = merge(local.env_table, { CONNECTION_TTL_SECONDS = tostring(var.connection_ttl_seconds) })
      policy_statements    = local.table_statements.connect
    }
    disconnect = {
      description          = "$disconnect: removes the connection and its memberships"
      memory_size          = 256
      timeout              = 10
      reserved_concurrency = 10
      environment          = local.env_table
      policy_statements    = local.table_statements.disconnect
    }
    default = {
      description          = "$default: error frames for unknown actions and bad JSON"
      memory_size          = 128
      timeout              = 5
      reserved_concurrency = 5
      environment          = {}
      policy_statements    = []
    }
    ping = {
      description          = "ping: pong with the region"
      memory_size          = 128
      timeout              = 5
      reserved_concurrency = 10
      environment          = { APP_VERSION = var.app_version }
      policy_statements    = []
    }
    send_message = {
      description          = "sendMessage: persist, ack, fan out to the room in this region"
      memory_size          = 512
      timeout              = 15
      reserved_concurrency = 50
      environment          = merge(local.env_table, local.env_delivery)
      policy_statements    = concat(local.table_statements.send_message, [local.manage_connections], local.dlq_send)
    }
    rooms = {
      description          = "joinRoom / leaveRoom / history"
      memory_size          = 256
      timeout              = 10
      reserved_concurrency = 20
      environment          = merge(local.env_table, { CONNECTION_TTL_SECONDS = tostring(var.connection_ttl_seconds) })
      policy_statements    = local.table_statements.rooms
    }
    authorizer = {
      description          = "REQUEST authorizer on $connect (HS256 token in ?token=)"
      memory_size          = 128
      timeout              = 5
      reserved_concurrency = 20
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
        {
          sid       = "SecretKeyThroughSsm"
          actions   = ["kms:Decrypt"]
          resources = [module.auth_kms.arn]
          conditions = [{
            test     = "StringEquals"
            variable = "kms:ViaService"
            values   = ["ssm.${var.region}.amazonaws.com"]
          }]
        },
      ]
    }
    fanout = {
      description          = "Stream consumer: delivers messages from other regions to this region's members"
      memory_size          = 512
      timeout              = 60
      reserved_concurrency = 10
      environment          = merge(local.env_table, local.env_delivery)
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
          {
            # The mapping's on-failure destination is sent with the function's role too.
            sid        = "SendToStreamFailureQueue"
            actions    = ["sqs:SendMessage"]
            resources  = [module.fanout_failures.arn]
            conditions = []
          },
          {
            sid       = "StreamFailureQueueKeyThroughSqs"
            actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
            resources = [module.fanout_failures.kms_key_arn]
            conditions = [{
              test     = "StringEquals"
              variable = "kms:ViaService"
              values   = ["sqs.${var.region}.amazonaws.com"]
            }]
          },
        ],
        local.dlq_send,
      )
    }
    health = {
      description          = "GET /health: table reachable, region and version"
      memory_size          = 128
      timeout              = 5
      reserved_concurrency = 2
      environment          = merge(local.env_table, { APP_VERSION = var.app_version })
      policy_statements    = local.table_statements.health
    }
    warmer = {
      description          = "Keeps the critical functions warm (module.warmer)"
      memory_size          = 256
      timeout              = 30
      reserved_concurrency = 1
      environment          = {}
      policy_statements    = []
    }
  }

  # Defaults overridden per function by var.functions.
  function_specs = {
    for k, s in local.function_defaults : k => merge(s, {
      memory_size          = coalesce(try(var.functions[k].memory_size, null), s.memory_size)
      timeout              = coalesce(try(var.functions[k].timeout, null), s.timeout)
      reserved_concurrency = coalesce(try(var.functions[k].reserved_concurrency, null), s.reserved_concurrency)
    })
  }
}
