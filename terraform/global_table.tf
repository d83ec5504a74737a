# The global table (DynamoDB global tables version 2019.11.21), one owner: the PRIMARY's apply.
#
#   PRIMARY   creates the table (module.table) and, when secondary_region is set, its replica in
#             the secondary region with a KMS key of its own there and PITR on. The replica is
#             created after the table's write-capacity autoscaling policies: a provisioned table
#             without write autoscaling cannot take a replica ("Table write capacity should
#             either be Pay-Per-Request or AutoScaled").
#   SECONDARY reads its replica with a data source and never manages it. Its plan refuses to run
#             before the primary's apply created the replica (terraform_data.guard; `make plan`/
#             `make apply` check the primary's outputs first).
#
# Apply order: primary, then secondary. Destroy order: secondary, then primary (`make destroy`
# refuses the primary while the secondary's state still holds resources).

module "replica_kms" {
  source = "./modules/kms_key"
  count  = local.has_replica ? 1 : 0

  region                  = var.secondary_region
  alias                   = "${local.name_prefix}-table-replica"
  description             = "DynamoWave ${var.environment} table replica in ${var.secondary_region} (server-side encryption)"
  via_services            = ["dynamodb"]
  deletion_window_in_days = var.kms_deletion_window_in_days
  tags                    = { Region = var.secondary_region }
}

resource "aws_dynamodb_table_replica" "secondary" {
  count = local.has_replica ? 1 : 0

  region                      = var.secondary_region
  global_table_arn            = module.table[0].arn
  kms_key_arn                 = module.replica_kms[0].arn
  point_in_time_recovery      = true
  deletion_protection_enabled = var.deletion_protection
  tags                        = { Region = var.secondary_region, FailoverRole = "SECONDARY" }

  lifecycle {
    # Referencing the write policies' ARNs also orders the replica after them.
    precondition {
      condition     = length(module.table[0].write_scaling_policy_arns) > 0
      error_message = "The table needs write-capacity autoscaling before it can take a replica (provisioned global tables must be autoscaled)."
    }
  }

  # Explicit: after every resource of the table module, the write autoscaling policies included.
  depends_on = [module.table]
}

# SECONDARY: the tables of this region. A list never fails: the plan refuses a missing replica
# with a clear message (terraform_data.guard) instead of a raw ResourceNotFoundException, and the
# secondary's own destroy still works when the primary (and with it the replica) is already gone.
data "aws_dynamodb_tables" "this_region" {
  count = local.is_primary ? 0 : 1
}

data "aws_dynamodb_table" "replica" {
  count = local.replica_found ? 1 : 0

  name = local.name_prefix

  lifecycle {
    postcondition {
      condition     = contains([for r in self.replica : r.region_name], var.primary_region)
      error_message = "Table ${local.name_prefix} in ${var.region} is not a replica of the global table in ${var.primary_region}: apply the primary region first: make apply ENV=${var.environment} REGION=${var.primary_region}"
    }
  }
}

# The replica's read capacity scales in its own region (write capacity autoscaling is kept in
# step across replicas by DynamoDB; read capacity is per replica). Created by the primary's apply,
# which owns the replica, in the secondary region (provider 6.x per-resource region).
resource "aws_appautoscaling_target" "replica_read" {
  for_each = local.has_replica ? local.replica_read_resources : {}

  region             = var.secondary_region
  service_namespace  = "dynamodb"
  resource_id        = each.value.resource_id
  scalable_dimension = each.value.dimension
  min_capacity       = var.table_autoscaling.read_min
  max_capacity       = var.table_autoscaling.read_max

  depends_on = [aws_dynamodb_table_replica.secondary]
}

resource "aws_appautoscaling_policy" "replica_read" {
  for_each = aws_appautoscaling_target.replica_read

  region             = var.secondary_region
  name               = "${local.name_prefix}-${var.secondary_region}-${each.key}-read"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = each.value.service_namespace
  resource_id        = each.value.resource_id
  scalable_dimension = each.value.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = var.table_autoscaling.target_utilization

    predefined_metric_specification {
      predefined_metric_type = "DynamoDBReadCapacityUtilization"
    }
  }
}
