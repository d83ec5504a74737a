# Failover drill: `make drill ENV=dev [DRILL_ARGS="--dry-run"]`. Runbook: docs/runbooks/failover-drill.md.
.PHONY: drill

# Checked at parse time so a missing ENV fails before `setup` spends a minute installing.
ifneq ($(filter drill,$(MAKECMDGOALS)),)
ifeq ($(strip $(ENV)),)
$(error make drill needs ENV, e.g. `make drill ENV=dev` (preview with DRILL_ARGS=--dry-run; prod also needs DRILL_ARGS=--yes))
endif
endif

drill: setup ## failover drill: invert the primary's health check, prove failover, restore (ENV=dev|prod, DRILL_ARGS=...)
	@test -n "$(strip $(ENV))" || { echo "make drill: set ENV, e.g. make drill ENV=dev" >&2; exit 2; }
	$(BIN)/dynamowave drill --env $(ENV) $(DRILL_ARGS)
