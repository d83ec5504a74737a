# Preflight: `make preflight ENV=dev REGION=eu-west-1 [PREFLIGHT_ARGS="--json reports/preflight.json"]`.
# Read-only checks of the account, the region and the local tools before Terraform runs; exit 1
# when any row FAILs. See docs/preflight.md.
.PHONY: preflight preflight-args

PREFLIGHT_ENVS ?= dev prod

# Checked at parse time so a missing ENV/REGION fails before `setup` spends a minute installing.
ifneq ($(filter preflight,$(MAKECMDGOALS)),)
ifeq ($(strip $(ENV)),)
$(error make preflight needs ENV and REGION, e.g. `make preflight ENV=dev REGION=eu-west-1`)
endif
endif

# The same ENV/REGION rules as tf-args, minus the backend file: preflight must run before it exists.
preflight-args:
	@case " $(PREFLIGHT_ENVS) " in *" $(ENV) "*) ;; *) echo "set ENV to one of: $(PREFLIGHT_ENVS) (got '$(ENV)')" >&2; exit 2;; esac
	@test -n "$(REGION)" || { echo "set REGION, e.g. REGION=eu-west-1 (the env's primary_region or secondary_region)" >&2; exit 2; }
	@test -f terraform/env/$(ENV).tfvars || { echo "terraform/env/$(ENV).tfvars is missing" >&2; exit 2; }

preflight: preflight-args setup ## read-only checks before plan/apply: versions, identity, quotas, zone, apply order (ENV= REGION=)
	$(BIN)/dynamowave preflight --env $(ENV) --region $(REGION) $(if $(TERRAFORM),--terraform "$(TERRAFORM)") $(PREFLIGHT_ARGS)
