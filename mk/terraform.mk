# Terraform: `make bootstrap REGION=...` (once per account and region), then
# `make plan|apply|destroy ENV=dev|prod REGION=...`; `make validate`, `make lint`, `make lock`.
#
# One state per environment AND region: the workspace is ENV, the S3 key carries REGION and the
# data dir (terraform/.terraform-ENV-REGION, where `dynamowave drill` looks too) keeps the backend
# configuration and selected workspace of every ENV/REGION pair apart.
#
# Two regions: apply the env's primary_region first, then its secondary_region; destroy in
# reverse. `tf-order` refuses to plan or apply the secondary until the primary's state lists the
# replica (global_table_regions); `tf-destroy-order` refuses to destroy the primary while the
# secondary's state still holds resources. Both read the other region's state through its own
# data dir (initialised on the fly when this machine has none), never by guessing.
.PHONY: plan apply destroy bootstrap validate lint lock tf-lint tf-lint-deps tf-init tf-workspace tf-args \
        tf-version tf-order tf-destroy-order tf-preflight tf-fmt tf-docs

TF_ENVS       := dev prod
TF_MIN        := 1.11
TF_BACKEND    ?= terraform/backend.hcl
TF_PROJECT    ?= dynamowave
TF_DATA_ROOT  ?= $(CURDIR)/terraform
TF_DATA       = $(TF_DATA_ROOT)/.terraform-$(ENV)-$(REGION)
TF_PLAN       = $(TF_DATA_ROOT)/plans/$(ENV)-$(REGION).tfplan
TF_KEY        = $(TF_PROJECT)/$(REGION)/terraform.tfstate
TF_VARS       = -var-file=env/$(ENV).tfvars -var=region=$(REGION)
TF_PLATFORMS  := linux_amd64 linux_arm64 darwin_arm64 darwin_amd64 windows_amd64
# The env file's regions (a plain `name = "value"` line each).
tf_tfvar       = $(shell sed -n 's/^[[:space:]]*$(1)[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' terraform/env/$(ENV).tfvars 2>/dev/null | head -n1)
TF_PRIMARY_REGION   = $(call tf_tfvar,primary_region)
TF_SECONDARY_REGION = $(call tf_tfvar,secondary_region)
SHARED        ?= ../shared
TFCHECK       := $(SHARED)/tools/tfcheck
# Deploy targets need a real Terraform >= 1.11 (tf-version checks it): the terraform on PATH or
# TERRAFORM=/path/to/terraform. The 1.0.3 binary of the lint venv only formats (TF_FMT).
TERRAFORM     ?= terraform
# checkov pins its own (older) boto3: the lint tools get a venv of their own so that `make lint`
# never changes what `make dev` and `make test` run with.
LINT_VENV     := .venv-lint
LINT_BIN      := $(LINT_VENV)/bin
LINT_STAMP    := $(LINT_VENV)/.installed
TF_FMT        = $(shell command -v terraform 2>/dev/null || echo $(LINT_BIN)/terraform)
# TF_WORKSPACE would silently override the selected workspace: never inherit it.
tf_env        = env -u TF_WORKSPACE TF_IN_AUTOMATION=1 TF_DATA_DIR=$(1) $(TERRAFORM) -chdir=$(2)
TF            = $(call tf_env,$(TF_DATA),terraform)
# Skipped with SKIP_PREFLIGHT=1, and (with a note) while mk/preflight.mk is not there.
TF_PREFLIGHT  = $(if $(SKIP_PREFLIGHT),,$(if $(wildcard mk/preflight.mk),preflight,tf-preflight))

# Shell: `tf_peer REGION ARGS...` runs terraform against another region's state of this ENV,
# initialising that region's data dir (backend key + workspace ENV) first when it has none here.
define TF_PEER
tf_peer() { r=$$1; shift; d=$(TF_DATA_ROOT)/.terraform-$(ENV)-$$r; \
  if [ ! -f "$$d/terraform.tfstate" ]; then \
    $(call tf_env,$$d,terraform) init -input=false -reconfigure -backend-config=$(abspath $(TF_BACKEND)) \
      -backend-config=key=$(TF_PROJECT)/$$r/terraform.tfstate >/dev/null 2>&1 || return 3; fi; \
  $(call tf_env,$$d,terraform) workspace select $(ENV) >/dev/null 2>&1 || return 4; \
  $(call tf_env,$$d,terraform) "$$@"; }
endef

tf-version:
	@v="$$({ $(TERRAFORM) version -json 2>/dev/null || true; } | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p' | head -n1)"; \
	test -n "$$v" || v="$$({ $(TERRAFORM) version 2>/dev/null || true; } | sed -n 's/^Terraform v\([0-9][0-9.]*\).*/\1/p' | head -n1)"; \
	if [ -z "$$v" ]; then echo "terraform: none found (TERRAFORM=$(TERRAFORM)); DynamoWave needs Terraform >= $(TF_MIN): install it or set TERRAFORM=/path/to/terraform" >&2; exit 2; fi; \
	if [ "$$(printf '%s\n%s\n' "$(TF_MIN)" "$$v" | sort -V | head -n1)" != "$(TF_MIN)" ]; then \
	  echo "terraform $$v found ($$(command -v $(TERRAFORM) || echo $(TERRAFORM))): DynamoWave needs Terraform >= $(TF_MIN) (the tested floor); install it or set TERRAFORM=/path/to/terraform" >&2; exit 2; fi

tf-args:
	@case " $(TF_ENVS) " in *" $(ENV) "*) ;; *) echo "set ENV to one of: $(TF_ENVS) (got '$(ENV)')" >&2; exit 2;; esac
	@test -n "$(REGION)" || { echo "set REGION, e.g. REGION=eu-west-1 (the env's primary_region or secondary_region)" >&2; exit 2; }
	@test -f terraform/env/$(ENV).tfvars || { echo "terraform/env/$(ENV).tfvars is missing" >&2; exit 2; }
	@test -f $(TF_BACKEND) || { echo "$(TF_BACKEND) is missing: copy terraform/backend.hcl.example and fill it in (see terraform/README.md)" >&2; exit 2; }
	@test -z "$${TF_WORKSPACE:-}" || test "$${TF_WORKSPACE}" = "$(ENV)" || { echo "TF_WORKSPACE=$${TF_WORKSPACE} does not match ENV=$(ENV): refusing" >&2; exit 2; }
	@case "$(REGION)" in "$(TF_PRIMARY_REGION)"|"$(TF_SECONDARY_REGION)") ;; \
	  *) echo "REGION=$(REGION) is neither primary_region ($(TF_PRIMARY_REGION)) nor secondary_region ($(TF_SECONDARY_REGION)) of terraform/env/$(ENV).tfvars" >&2; exit 2;; esac

tf-preflight:
	@echo "==> preflight: mk/preflight.mk is not there, skipped"

# The secondary only after the primary: the primary's state must list this region in
# global_table_regions (its replica). The secondary's plan checks the replica itself as well.
tf-order: tf-args
	@$(TF_PEER); if [ "$(REGION)" = "$(TF_PRIMARY_REGION)" ]; then exit 0; fi; \
	regions="$$(tf_peer $(TF_PRIMARY_REGION) output -json global_table_regions 2>/dev/null || true)"; \
	case "$$regions" in *'"$(REGION)"'*) echo "==> primary $(TF_PRIMARY_REGION) is applied and replicates to $(REGION)";; \
	*) echo "$(REGION) is the secondary region of $(ENV) and the primary has not created its replica yet: apply the primary region first: make apply ENV=$(ENV) REGION=$(TF_PRIMARY_REGION)" >&2; exit 1;; esac

# The primary only after the secondary: its destroy removes the replica and schedules the replica's
# key for deletion while the secondary would still use them.
tf-destroy-order: tf-args
	@$(TF_PEER); if [ "$(REGION)" != "$(TF_PRIMARY_REGION)" ] || [ -z "$(TF_SECONDARY_REGION)" ]; then exit 0; fi; \
	if left="$$(tf_peer $(TF_SECONDARY_REGION) state list 2>/dev/null)"; then \
	  n="$$(printf '%s\n' "$$left" | grep -c . || true)"; \
	  if [ "$$n" -gt 0 ]; then echo "the secondary region $(TF_SECONDARY_REGION) of $(ENV) still has $$n resources in its state: destroy it first: make destroy ENV=$(ENV) REGION=$(TF_SECONDARY_REGION)" >&2; exit 1; fi; \
	  echo "==> secondary $(TF_SECONDARY_REGION) holds no resources: destroying the primary"; \
	else echo "cannot read the state of the secondary region $(TF_SECONDARY_REGION) of $(ENV): destroy it first (make destroy ENV=$(ENV) REGION=$(TF_SECONDARY_REGION)) or check $(TF_BACKEND)" >&2; exit 1; fi

tf-init: tf-args
	$(TF) init -input=false -reconfigure \
	  -backend-config=$(abspath $(TF_BACKEND)) \
	  -backend-config=key=$(TF_KEY)

# Select (or create) workspace ENV, then refuse to go on if any other workspace is selected.
tf-workspace: tf-init
	@$(TF) workspace select $(ENV) >/dev/null 2>&1 || $(TF) workspace new $(ENV)
	@ws="$$($(TF) workspace show)"; test "$$ws" = "$(ENV)" || { echo "workspace is '$$ws', expected '$(ENV)': refusing" >&2; exit 1; }
	@echo "==> $(ENV) / $(REGION): workspace $(ENV), state key $(TF_KEY), data dir $(TF_DATA)"

plan: tf-version tf-args $(TF_PREFLIGHT) tf-order build tf-workspace ## terraform plan to a file (ENV=dev|prod REGION=...); preflight, then the zips (SKIP_PREFLIGHT=1 skips preflight)
	@mkdir -p $(dir $(TF_PLAN))
	$(TF) plan -input=false $(TF_VARS) -out=$(TF_PLAN)
	@echo "==> plan saved to $(TF_PLAN); apply it with: make apply ENV=$(ENV) REGION=$(REGION)"

apply: tf-version tf-args $(TF_PREFLIGHT) tf-order tf-workspace ## apply the saved plan of `make plan` (ENV=dev|prod REGION=...); primary region first
	@test -f $(TF_PLAN) || { echo "no saved plan $(TF_PLAN): run make plan ENV=$(ENV) REGION=$(REGION) first" >&2; exit 1; }
	@test ! dist/manifest.json -nt $(TF_PLAN) || { echo "dist/ was rebuilt after the plan: run make plan again" >&2; exit 1; }
	$(TF) apply -input=false $(TF_PLAN)
	@rm -f $(TF_PLAN)
	@$(TF) output

destroy: tf-version tf-args tf-destroy-order build tf-workspace ## terraform destroy (asks for confirmation); secondary region first; never touches account-wide settings
	$(TF) destroy -input=true $(TF_VARS)

# Once per account and region, before the first apply: the API Gateway CloudWatch Logs role and
# account setting (terraform/bootstrap). Its own state; it refuses to be destroyed.
bootstrap: tf-version ## once per account and region: API Gateway logging role + account setting (REGION=...)
	@test -n "$(REGION)" || { echo "set REGION, e.g. make bootstrap REGION=eu-west-1 (once per account and region)" >&2; exit 2; }
	@test -f $(TF_BACKEND) || { echo "$(TF_BACKEND) is missing: copy terraform/backend.hcl.example and fill it in" >&2; exit 2; }
	$(call tf_env,$(TF_DATA_ROOT)/.terraform-bootstrap-$(REGION),terraform/bootstrap) init -input=false -reconfigure \
	  -backend-config=$(abspath $(TF_BACKEND)) -backend-config=key=$(TF_PROJECT)-bootstrap/$(REGION)/terraform.tfstate
	$(call tf_env,$(TF_DATA_ROOT)/.terraform-bootstrap-$(REGION),terraform/bootstrap) apply -input=true -var=region=$(REGION) -var=project=$(TF_PROJECT)

# The provider lock file for every platform users run (needs the registry: run it where
# providers can be downloaded, then commit terraform/.terraform.lock.hcl and the bootstrap's).
lock: tf-version ## write .terraform.lock.hcl (root and bootstrap) for linux/darwin/windows
	@for dir in terraform terraform/bootstrap; do \
	  d=$$(mktemp -d); echo "==> $$dir: terraform providers lock $(addprefix -platform=,$(TF_PLATFORMS))"; \
	  TF_DATA_DIR=$$d $(TERRAFORM) -chdir=$$dir init -backend=false -input=false >/dev/null && \
	  TF_DATA_DIR=$$d $(TERRAFORM) -chdir=$$dir providers lock $(addprefix -platform=,$(TF_PLATFORMS)); rc=$$?; \
	  rm -rf $$d; test $$rc -eq 0 || exit $$rc; done

validate: ## offline tfcheck; `terraform validate` too when providers can be installed
	@if [ -n "$(SKIP_TFCHECK)" ]; then :; elif [ -x "$(TFCHECK)" ]; then echo "==> tfcheck terraform/"; $(PY) $(TFCHECK) terraform/; \
	else echo "==> tfcheck: skipped ($(TFCHECK) is not there: it ships outside this repository)"; fi
	@for dir in terraform terraform/bootstrap; do d=$$(mktemp -d); \
	if TF_DATA_DIR=$$d $(TERRAFORM) -chdir=$$dir init -backend=false -input=false -no-color >$$d/init.log 2>&1; then \
	  echo "==> terraform validate $$dir"; TF_DATA_DIR=$$d $(TERRAFORM) -chdir=$$dir validate; rc=$$?; \
	else echo "==> terraform validate $$dir: skipped (providers cannot be installed here: $$(grep -m1 'Error' $$d/init.log || tail -n1 $$d/init.log))"; rc=0; fi; \
	rm -rf $$d; test $$rc -eq 0 || exit $$rc; done

tf-fmt: ## terraform fmt -recursive (rewrite)
	$(TF_FMT) fmt -recursive terraform

$(LINT_STAMP): pyproject.toml
	@echo "==> installing the lint tools (dependency group 'lint') into $(LINT_VENV)"
	@test -x $(LINT_BIN)/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(LINT_BIN)/python -m pip install --quiet --group lint
	@touch $@

tf-lint-deps: setup $(LINT_STAMP)

tf-lint: tf-lint-deps ## Terraform: fmt -check, tfcheck, checkov; tflint and terraform validate when available (says what was skipped)
	@echo "==> terraform fmt -check -recursive terraform ($(TF_FMT))"; $(TF_FMT) fmt -check -recursive terraform
	@if [ -x "$(TFCHECK)" ]; then echo "==> tfcheck terraform/"; $(PY) $(TFCHECK) terraform/; \
	else echo "==> tfcheck: skipped ($(TFCHECK) is not there: it ships outside this repository)"; fi
	@echo "==> checkov"; $(LINT_BIN)/checkov -d terraform --framework terraform --quiet --compact --skip-download
	@if command -v tflint >/dev/null 2>&1; then \
	  echo "==> tflint"; tflint --chdir=terraform --config=$(CURDIR)/.tflint.hcl --init && \
	  tflint --chdir=terraform --config=$(CURDIR)/.tflint.hcl --recursive; \
	else echo "==> tflint: skipped (not installed)"; fi
	@if $(MAKE) --no-print-directory -s tf-version >/dev/null 2>&1; then $(MAKE) --no-print-directory validate SKIP_TFCHECK=1; \
	else echo "==> terraform validate: skipped (no Terraform >= $(TF_MIN): $$($(MAKE) --no-print-directory -s tf-version 2>&1 | head -n1))"; fi

lint: tf-lint ## lint everything (Terraform: fmt, tfcheck, checkov, tflint/validate when installed)

tf-docs: ## refresh the terraform-docs sections of the module READMEs (needs terraform-docs)
	@command -v terraform-docs >/dev/null || { echo "terraform-docs is not installed" >&2; exit 1; }
	@for d in terraform terraform/bootstrap terraform/modules/*/; do terraform-docs markdown table --output-file README.md --output-mode inject $$d; done
