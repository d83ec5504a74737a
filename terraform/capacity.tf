# Lambda concurrency: what the stage's throttles can send each function, what its reservation
# must hold, and whether the account's quota leaves enough unreserved. The arithmetic and the
# prod figures are in terraform/README.md ("Concurrency").
#
# A throttle is a token bucket: in any window of t seconds a route admits at most
# burst + rate x t requests. Each request holds an execution for up to the function's p99
# duration d, so the peak concurrency the stage can ask of a function is
#   need = ceil(sum over its routes of (burst + rate x d))
# (the authorizer runs once per $connect). A reservation is a cap as well as a floor: a function
# with a reservation below its need is throttled by Lambda on traffic API Gateway admitted.
# Functions without a reservation (null) share the account's unreserved pool.
#
# A function driven by an SQS event source mapping with a concurrency cap (redeliver, fanout_worker) needs that
# cap: Lambda throttling the mapping's own invocations returns the batch to the queue, and every
# return costs its records one of their max_receive_count receives on the way to the DLQ.

locals {
  # Effective limits of every route: its own (route_throttling), else the stage default.
  route_limits = { for k, r in local.routes : k => lookup(var.route_throttling, k, var.default_throttling) }
  # Route keys that invoke each function (the authorizer is invoked by $connect when auth is on).
  function_routes = {
    for fn in keys(local.function_sizing) : fn => [
      for k, r in local.routes : k if r.function == fn || (fn == "authorizer" && local.auth_on && k == "$connect")
    ]
  }
  mapping_concurrency = {
    redeliver     = var.redelivery.maximum_concurrency
    fanout_worker = var.fanout_sharding.maximum_concurrency
  }
  concurrency_need = {
    for fn, route_keys in local.function_routes : fn => max(lookup(local.mapping_concurrency, fn, 0), ceil(sum(concat([0], [
      for k in route_keys : local.route_limits[k].burst_limit + local.route_limits[k].rate_limit * local.function_specs[fn].p99_ms / 1000
    ]))))
  }
  reservations   = { for fn, s in local.function_specs : fn => s.reserved_concurrency if s.reserved_concurrency != null }
  reserved_total = sum(concat([0], values(local.reservations)))
  # The account's concurrent-executions quota in this region, read only when something is reserved.
  concurrency_quota = one(data.aws_servicequotas_service_quota.lambda_concurrency[*].value)
}

data "aws_servicequotas_service_quota" "lambda_concurrency" {
  count = local.reserved_total > 0 ? 1 : 0

  service_code = "lambda"
  quota_code   = "L-B99A9384" # Concurrent executions
}

resource "terraform_data" "capacity" {
  input = local.reservations

  lifecycle {
    precondition {
      condition     = local.reserved_total == 0 || try(local.concurrency_quota - local.reserved_total >= var.min_unreserved_concurrency, false)
      error_message = "Reserved concurrency ${local.reserved_total} (${join(", ", [for fn, n in local.reservations : "${fn} ${n}"])}) would leave ${try(local.concurrency_quota - local.reserved_total, "?")} of this account's Lambda concurrency quota (${coalesce(local.concurrency_quota, "?")}, Service Quotas lambda L-B99A9384) unreserved in ${var.region}; at least ${var.min_unreserved_concurrency} must stay unreserved. Request a quota increase or set reserved_concurrency = null for some functions."
    }
    precondition {
      condition     = alltrue([for fn, n in local.reservations : n >= local.concurrency_need[fn]])
      error_message = "Reservations below what the stage throttles can send (burst + rate x p99) or below an event source mapping's maximum_concurrency (redelivery.maximum_concurrency for redeliver, fanout_sharding.maximum_concurrency for fanout_worker): ${join(", ", [for fn, n in local.reservations : "${fn} reserves ${n}, needs ${local.concurrency_need[fn]}" if n < local.concurrency_need[fn]])}. Raise the reservation, lower the route throttles or the mapping's cap, or reserve nothing (null)."
    }
    precondition {
      condition     = alltrue([for fn in keys(local.reservations) : !contains(keys(local.function_specs[fn].environment), "DELIVERY_BUDGET_MS") || local.function_specs[fn].p99_ms >= var.app_settings.delivery_budget_ms])
      error_message = "A function that delivers can run for its whole delivery budget: size its reservation with p99_ms >= app_settings.delivery_budget_ms (${var.app_settings.delivery_budget_ms})."
    }
  }
}
