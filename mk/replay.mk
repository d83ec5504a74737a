# Replay the final delivery DLQ: `make replay-dlq ENV=dev REGION=eu-west-1 [REPLAY_ARGS="--dry-run"]`.
# Redelivers each record through the redeliver function's path; deletes what is delivered, gone or
# dropped and leaves what still fails. Runbook: docs/runbooks/replay-dlq.md.
.PHONY: replay-dlq replay-args

REPLAY_ENVS ?= dev prod
# The data dir mk/terraform.mk applies each ENV/REGION from (its TF_DATA_ROOT), where the outputs are.
REPLAY_DATA = $(or $(TF_DATA_ROOT),terraform)/.terraform-$(ENV)-$(REGION)

# Checked at parse time so a missing ENV/REGION fails before `setup` spends a minute installing.
ifneq ($(filter replay-dlq,$(MAKECMDGOALS)),)
ifeq ($(strip $(ENV)),)
$(error make replay-dlq needs ENV and REGION, e.g. `make replay-dlq ENV=dev REGION=eu-west-1` (preview with REPLAY_ARGS=--dry-run))
endif
ifeq ($(strip $(REGION)),)
$(error make replay-dlq needs REGION, e.g. `make replay-dlq ENV=$(ENV) REGION=eu-west-1`: each region has its own DLQ)
endif
endif

replay-args:
	@case " $(REPLAY_ENVS) " in *" $(ENV) "*) ;; *) echo "set ENV to one of: $(REPLAY_ENVS) (got '$(ENV)')" >&2; exit 2;; esac
	@test -n "$(REGION)" || { echo "set REGION, e.g. REGION=eu-west-1 (each region has its own DLQ)" >&2; exit 2; }
	@test -d "$(REPLAY_DATA)" || { echo "$(REPLAY_DATA) is missing: run \`make apply ENV=$(ENV) REGION=$(REGION)\` first" >&2; exit 2; }

replay-dlq: replay-args setup ## redeliver the delivery DLQ's records still deliverable (ENV= REGION=, REPLAY_ARGS=--dry-run)
	$(BIN)/dynamowave replay-dlq --env $(ENV) --region $(REGION) --tf-data-dir "$(or $(TF_DATA_ROOT),terraform)/.terraform-{env}-{region}" $(if $(TERRAFORM),--terraform "$(TERRAFORM)") $(REPLAY_ARGS)
