# The global table (DynamoDB global tables version 2019.11.21), one owner: the PRIMARY's apply.
#
#   PRIMARY   creates the table (module.table) and, when secondary_region is set, its replica in
#             the secondary region with a KMS key of its own there and PITR on. The replica is
#             created after the table's write-capacity autoscaling policies: a provisioned table
#             without write autoscaling cannot take a replica ("Table write capacity should
#             either be Pay-Per-Request or AutoScaled").
#   SECONDARY reads its replica with a data source and never manages it. Its plan refuses to run
#             before the primary's apply created the replica (precondition below; `make plan`/
#             `make apply` also check the primary's outputs when its data dir is on this machine).
#
# Apply order: primary, then secondary. Destroy order: secondary, then primary.

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

# SECONDARY: the tables of this region, to refuse a plan before the replica exists with a clear
# message (a plain aws_dynamodb_table lookup would fail with ResourceNotFoundException).
data "aws_dynamodb_tables" "this_region" {
  count = local.is_primary ? 0 : 1
}

data "aws_dynamodb_table" "replica" {
  count = local.is_primary ? 0 : 1

  name = local.name_prefix

  lifecycle {
    precondition {
      condition     = contains(data.aws_dynamodb_tables.this_region[0].names, local.name_prefix)
      error_message = "Table ${local.name_prefix} has no replica in ${var.region} yet: apply the primary region first: make apply ENV=${var.environment} REGION=${var.primary_region}"
    }
    postcondition {
      condition     = contains([for r in self.replica : r.region_name], var.primary_region)
      error_message = "Table ${local.name_prefix} in ${var.region} is not a replica of the global table in ${var.primary_region}: apply the primary region first: make apply ENV=${var.environment} REGION=${var.primary_region}"
    }
  }
}
