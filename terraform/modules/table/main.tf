locals {
  # The key schema is shared with the local runtime (dynamowave dev): one source of truth.
  schema = jsondecode(file("${path.module}/schema.json"))
  gsis   = { for g in try(local.schema.global_secondary_indexes, []) : g.name => g }

  # Autoscaling targets: the table and every GSI, for reads and writes.
  scaling_resources = merge(
    { "table" = "table/${var.name}" },
    { for n in keys(local.gsis) : "index-${n}" => "table/${var.name}/index/${n}" },
  )
  scaling_targets = merge([
    for key, resource_id in local.scaling_resources : {
      for kind in ["read", "write"] : "${key}-${kind}" => {
        resource_id = resource_id
        kind        = kind
        dimension   = "dynamodb:${startswith(key, "index-") ? "index" : "table"}:${kind == "read" ? "ReadCapacityUnits" : "WriteCapacityUnits"}"
        metric      = kind == "read" ? "DynamoDBReadCapacityUtilization" : "DynamoDBWriteCapacityUtilization"
        min         = kind == "read" ? var.autoscaling.read_min : var.autoscaling.write_min
        max         = kind == "read" ? var.autoscaling.read_max : var.autoscaling.write_max
      }
    }
  ]...)
}

module "kms" {
  source = "../kms_key"

  alias                   = "${var.name}-table"
  description             = "DynamoWave table ${var.name} (server-side encryption)"
  via_services            = ["dynamodb"]
  deletion_window_in_days = var.kms_deletion_window_in_days
  tags                    = var.tags
}

resource "aws_dynamodb_table" "this" {
  name                        = var.name
  billing_mode                = "PROVISIONED"
  read_capacity               = var.autoscaling.read_min
  write_capacity              = var.autoscaling.write_min
  hash_key                    = local.schema.hash_key
  range_key                   = local.schema.range_key
  stream_enabled              = true
  stream_view_type            = local.schema.stream_view_type
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = local.schema.attributes
    content {
      name = attribute.value.name
      type = attribute.value.type
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.gsis
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = try(global_secondary_index.value.range_key, null)
      projection_type = try(global_secondary_index.value.projection_type, "ALL")
      read_capacity   = var.autoscaling.read_min
      write_capacity  = var.autoscaling.write_min
    }
  }

  ttl {
    attribute_name = local.schema.ttl_attribute
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = module.kms.arn
  }

  tags = var.tags

  lifecycle {
    # Capacity belongs to Application Auto Scaling once the table exists; replicas belong to
    # aws_dynamodb_table_replica (root module, primary region) and must not be reverted here.
    ignore_changes = [read_capacity, write_capacity, replica]
  }
}

resource "aws_appautoscaling_target" "this" {
  for_each = local.scaling_targets

  service_namespace  = "dynamodb"
  resource_id        = each.value.resource_id
  scalable_dimension = each.value.dimension
  min_capacity       = each.value.min
  max_capacity       = each.value.max
  tags               = var.tags

  depends_on = [aws_dynamodb_table.this]
}

resource "aws_appautoscaling_policy" "this" {
  for_each = local.scaling_targets

  name               = "${var.name}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.target_utilization
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
    scale_out_cooldown = var.autoscaling.scale_out_cooldown

    predefined_metric_specification {
      predefined_metric_type = each.value.metric
    }
  }
}
