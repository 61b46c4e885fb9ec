# Shared by scripts/dev, scripts/test and friends: install pinned tools into the
# project, start local services on loopback, and stop everything we started.
# Sourced, not run.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PROFILE_LINK_CACHE:-$HOME/.cache/profile-link}"
# Build output lives in the checkout (Cargo's default, target/), never in a
# directory another checkout writes: Cargo judges freshness by mtime, so a
# shared target can hand one checkout another's binaries. An inherited
# CARGO_TARGET_DIR is removed rather than overridden: sccache keys its cache
# on CARGO_* variables, so a per-checkout value there would also stop the
# checkouts sharing compiled dependencies. What cannot go stale is shared:
# crates.io downloads (~/.cargo/registry) and compiled dependencies (sccache).
unset CARGO_TARGET_DIR
TARGET_DIR="$ROOT/target"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$CACHE/pip}"
export npm_config_cache="${npm_config_cache:-$CACHE/npm}"
VENV="$ROOT/.venv"
RUN_DIR="${RUN_DIR:-$ROOT/.local/run}"
mkdir -p "$CACHE" "$RUN_DIR"

STARTED_PIDS=()
# Directories a started server needed outside the checkout, removed with it.
STARTED_DIRS=()
# Whatever a script starts is stopped when it ends, from the first line on;
# a script that sets its own EXIT trap calls stop_started from it.
trap 'stop_started' EXIT

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed ($2)"
}

# The content hash of files, to reinstall only when a lock file changes.
# (sha256sum on Linux, shasum on macOS.)
stamp_of() {
  if command -v sha256sum >/dev/null 2>&1; then cat "$@" | sha256sum | cut -c1-16; else cat "$@" | shasum -a 256 | cut -c1-16; fi
}

ensure_python_env() {
  need python3 "Python 3.11+"
  local lock="$ROOT/infra/python/requirements.lock" stamp="$VENV/.installed"
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$(stamp_of "$lock")" ]]; then
    return
  fi
  say "installing the AWS emulator (moto) into $VENV"
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$lock"
  stamp_of "$lock" >"$stamp"
}

# npm ci in directory $1 (what it is for: $2), only when its lockfile changed.
ensure_npm_deps() {
  need node "Node.js 20+"
  need npm "npm"
  local dir="$1" stamp="$1/node_modules/.installed"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$(stamp_of "$dir/package-lock.json")" ]]; then
    return
  fi
  say "installing $2 (npm ci)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  stamp_of "$dir/package-lock.json" >"$stamp"
}

# The dev providers and their tests (infra/dev-idp/test: Node's built-ins
# plus the server's own packages), from infra/dev-idp/package-lock.json.
ensure_idp_deps() { ensure_npm_deps "$ROOT/infra/dev-idp" "the dev identity provider's packages"; }
ensure_e2e_deps() { ensure_npm_deps "$ROOT/tests/e2e" "the browser tests' packages"; }

# Fails with a clear message if something already listens on the port.
require_free_port() {
  local port="$1" what="$2" variable="$3"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port ($what) is already in use on 127.0.0.1: stop whatever listens there, or choose another port with $variable=..."
  fi
}

# A currently free loopback port, for test runs that must not collide with a dev stack.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts a command in the background with its output in $RUN_DIR/NAME.log.
start_bg() {
  local name="$1"
  shift
  "$@" >"$RUN_DIR/$name.log" 2>&1 &
  STARTED_PIDS+=("$!")
  echo "$!" >"$RUN_DIR/$name.pid"
}

# Polls until $url answers 2xx ($4 = any: any HTTP answer), $3 tries 0.2 s apart.
wait_for_http() {
  local url="$1" name="$2" tries="${3:-150}" accept="${4:-2xx}" fail=-f
  [[ "$accept" == any ]] && fail=
  local pid="" reason
  [[ -f "$RUN_DIR/$name.pid" ]] && pid="$(<"$RUN_DIR/$name.pid")"
  for ((i = 0; i < tries; i++)); do
    if curl $fail -sS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
      return 0
    fi
    # A process that has exited will not answer: say why now, not after the last try.
    [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.2
  done
  # Our servers end a failed start with one line (startup::exit_cannot_start): that line alone.
  reason="$(sed -e 's/\x1b\[[0-9;]*m//g' "$RUN_DIR/$name.log" 2>/dev/null | grep -o -m1 'cannot start: [^"]*' || true)"
  [[ -n "$reason" ]] && die "$name $reason (its log: $RUN_DIR/$name.log)"
  echo "---- last lines of $RUN_DIR/$name.log ----" >&2
  tail -n 30 "$RUN_DIR/$name.log" >&2 || true
  die "$name did not become ready at $url"
}

stop_started() {
  local pid
  stop_rust_cache
  for pid in "${STARTED_PIDS[@]:-}"; do
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]:-}"; do
    [[ -n "$pid" ]] && wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
  local dir
  for dir in "${STARTED_DIRS[@]:-}"; do
    [[ -n "$dir" ]] && rm -rf "$dir"
  done
  STARTED_DIRS=()
}

ensure_dynamodb_local() {
  need java "Java 17+ for DynamoDB Local (apt-get install openjdk-17-jre-headless)"
  ensure_npm_deps "$ROOT/infra/dynamodb-local" "AWS's DynamoDB Local"
}

# Each service's endpoint, as the SDK reads them (AWS_ENDPOINT_URL_<SERVICE>):
# the table and its stream at DynamoDB Local on $1, SES v2 and SSM at moto on $2.
# Dummy credentials: both accept any, and nothing here may reach real AWS.
use_local_aws() {
  local dynamodb="http://127.0.0.1:$1" moto="http://127.0.0.1:$2"
  export AWS_ENDPOINT_URL_DYNAMODB="$dynamodb" AWS_ENDPOINT_URL_DYNAMODB_STREAMS="$dynamodb"
  export AWS_ENDPOINT_URL_SESV2="$moto" AWS_ENDPOINT_URL_SSM="$moto"
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION="${AWS_REGION:-eu-west-1}"
  unset AWS_ENDPOINT_URL AWS_PROFILE AWS_SESSION_TOKEN
}

# AWS's own DynamoDB Local on 127.0.0.1:$1, in memory (DESIGN.md: the real
# engine validates requests as DynamoDB does). Bound to loopback by
# infra/dynamodb-local/Loopback.java; checked below, since the jar alone
# would listen on every interface.
start_dynamodb_local() {
  local port="$1"
  say "starting DynamoDB Local on 127.0.0.1:$port"
  start_bg dynamodb-local "$ROOT/infra/dynamodb-local/run" "$port"
  wait_for_http "http://127.0.0.1:$port/" dynamodb-local 300 any
  require_loopback_only "$port" "DynamoDB Local"
}

# The local AWS servers on free ports (or $1 and $2), and the SDK pointed at them.
start_local_aws() {
  local dynamodb_port="${1:-$(free_port)}" moto_port="${2:-$(free_port)}"
  start_dynamodb_local "$dynamodb_port"
  start_moto "$moto_port"
  use_local_aws "$dynamodb_port" "$moto_port"
}

# moto's server for SES v2 (sent mail is read back at /moto-api/data.json) and SSM.
start_moto() {
  local port="$1"
  say "starting moto (SES v2, SSM) on 127.0.0.1:$port"
  start_bg moto "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
  wait_for_http "http://127.0.0.1:$port/moto-api/" moto
  require_loopback_only "$port" "moto"
}

# Fails unless every socket listening on the port is bound to loopback (no
# traffic is sent to find out): read from the kernel's table on Linux, from
# lsof elsewhere (macOS has no /proc). PROFILE_LINK_LOOPBACK_CHECK=proc|lsof|none
# forces one way (tests/loopback.sh checks each).
require_loopback_only() {
  local port="$1" what="$2" how="${PROFILE_LINK_LOOPBACK_CHECK:-}" bound address written=""
  if [[ -z "$how" ]]; then
    if [[ -r /proc/net/tcp ]]; then
      how=proc
    elif command -v lsof >/dev/null 2>&1; then
      how=lsof
    else
      how=none
    fi
  fi
  case "$how" in
    proc)
      local hex
      hex="$(printf '%04X' "$port")" written=" (the kernel's hex)"
      bound="$(awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p {print $2}' /proc/net/tcp /proc/net/tcp6 2>/dev/null)"
      ;;
    lsof)
      bound="$(lsof -nP -iTCP:"$port" -sTCP:LISTEN -Fn 2>/dev/null | sed -n 's/^n//p' || true)"
      ;;
    *)
      die "cannot check that $what listens only on loopback (port $port): that needs /proc/net/tcp (Linux) or lsof; install lsof"
      ;;
  esac
  [[ -n "$bound" ]] || die "$what does not listen on port $port"
  for address in $bound; do
    address="${address%:*}"
    case "$address" in
      # /proc: 127.0.0.1, ::ffff:127.0.0.1 and ::1 in the kernel's hex; lsof: as written.
      0100007F | 0000000000000000FFFF00000100007F | 00000000000000000000000001000000) ;;
      127.0.0.1 | "[::1]" | "[::ffff:127.0.0.1]") ;;
      *) die "$what listens on $address$written port $port, not only on loopback: refusing to expose it" ;;
    esac
  done
}

start_idp() {
  local port="$1"
  say "starting the dev identity provider on 127.0.0.1:$port"
  IDP_HOST=127.0.0.1 IDP_PORT="$port" start_bg idp node "$ROOT/infra/dev-idp/server.mjs"
  wait_for_http "http://127.0.0.1:$port/healthz" idp
}

# Debian's Chromium for the browser tests (never a browser download).
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return
  if [[ "$(id -u)" != 0 ]]; then
    die "the browser tests need Debian's chromium: sudo apt-get install -y chromium"
  fi
  say "installing Debian's chromium (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

# Debian's Apache and mod_auth_openidc for the relying-party tests
# (tests/relying-parties): run as the test's own foreground process, never
# the system's service or sites.
ensure_apache_oidc() {
  [[ -x /usr/sbin/apache2 && -f /usr/lib/apache2/modules/mod_auth_openidc.so ]] && return
  if [[ "$(id -u)" != 0 ]]; then
    die "the relying-party tests need Debian's Apache and mod_auth_openidc: sudo apt-get install -y apache2 libapache2-mod-auth-openidc"
  fi
  say "installing Debian's apache2 and libapache2-mod-auth-openidc (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apache2 libapache2-mod-auth-openidc >/dev/null
}

# Apache with mod_auth_openidc on 127.0.0.1:$1 as client apache-oidc of the
# OpenID Provider at issuer $2 (export_dev_server_env registers it), in front
# of tests/relying-parties/apache/claims.cgi at /protected/claims. One process
# in the foreground (-X), its own ServerRoot, config and logs; none of the
# system's sites or services. Its files live in a directory of their own
# under /tmp: as root, Apache serves as www-data, which must read them.
start_apache_oidc() {
  local port="$1" issuer="$2" dir user=""
  require_free_port "$port" "Apache (mod_auth_openidc)" APACHE_OIDC_PORT
  dir="$(mktemp -d "${TMPDIR:-/tmp}/profile-link-apache.XXXXXX")"
  STARTED_DIRS+=("$dir")
  chmod 755 "$dir"
  install -m 755 "$ROOT/tests/relying-parties/apache/claims.cgi" "$dir/claims.cgi"
  [[ "$(id -u)" == 0 ]] && user=$'User www-data\nGroup www-data'
  local modules=/usr/lib/apache2/modules
  cat >"$dir/httpd.conf" <<CONF
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$dir/httpd.pid"
ErrorLog "$RUN_DIR/apache-oidc-error.log"
LogLevel warn auth_openidc:info
# One process (-X) serves one connection at a time: a browser's kept-alive
# connection would keep profile-link's logout token waiting past its timeout.
KeepAlive Off
$user
LoadModule mpm_prefork_module $modules/mod_mpm_prefork.so
LoadModule authn_core_module $modules/mod_authn_core.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule authz_user_module $modules/mod_authz_user.so
LoadModule alias_module $modules/mod_alias.so
LoadModule cgi_module $modules/mod_cgi.so
LoadModule auth_openidc_module $modules/mod_auth_openidc.so
DocumentRoot "$dir"

OIDCProviderMetadataURL $issuer/.well-known/openid-configuration
OIDCClientID apache-oidc
OIDCClientSecret apache-oidc-secret
OIDCRedirectURI http://127.0.0.1:$port/protected/redirect_uri
OIDCCryptoPassphrase $(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
OIDCPKCEMethod S256
OIDCScope "openid profile email"
OIDCPassClaimsAs environment
# Without it the module never records a session's sid (2.4.12 does not take
# backchannel_logout_supported from discovery), and logout tokens find nothing.
OIDCProviderBackChannelLogoutSupported On

ScriptAlias /protected/claims "$dir/claims.cgi"
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
CONF
  say "starting Apache with mod_auth_openidc on 127.0.0.1:$port"
  start_bg apache-oidc /usr/sbin/apache2 -X -d "$dir" -f "$dir/httpd.conf"
  wait_for_http "http://127.0.0.1:$port/" apache-oidc 100 any
  require_loopback_only "$port" "Apache"
  export APACHE_OIDC_URL="http://127.0.0.1:$port" APACHE_OIDC_ERROR_LOG="$RUN_DIR/apache-oidc-error.log"
}

# The environment the functions read, for a dev server on $1 trusting the dev
# identity provider on $2, with table $3 and a session key kept in file $4
# (its public part, for request-association, next to it as <name>.jwks.json).
export_dev_server_env() {
  local port="$1" idp_port="$2" table="$3" key_file="$4"
  # A key file from before RSA keys (RS256 ID tokens) is replaced: locally, signing out is harmless.
  if [[ ! -s "$key_file" ]] || ! grep -q "BEGIN RSA PRIVATE KEY" "$key_file"; then
    mkdir -p "$(dirname "$key_file")"
    (umask 077 && "$(bin_path profile-link-admin)" keys generate >"$key_file")
  fi
  local public_file="${key_file%.pem}.jwks.json"
  "$(bin_path profile-link-admin)" keys public <"$key_file" >"$public_file"
  export TABLE_NAME="$table"
  export PUBLIC_BASE_URL="http://127.0.0.1:$port"
  # The dev provider's root (OIDC Core as written), for the scripts that sign in there themselves.
  export DEV_IDP_URL="http://127.0.0.1:$idp_port"
  # The providers: the dev provider's list, written once it runs (start_dev_server).
  export PROVIDERS_FILE="$ROOT/.local/providers-$idp_port.json"
  export SESSION_SIGNING_KEY_FILE="$key_file"
  export SESSION_PUBLIC_KEYS_FILE="$public_file"
  export MAIL_FROM="${MAIL_FROM:-Example Ltd <no-reply@example.com>}"
  export SUPPORT_EMAIL="${SUPPORT_EMAIL:-support@example.com}"
  export OPERATOR_NAME="${OPERATOR_NAME:-Example Ltd}"
  export PRODUCT_NAME="${PRODUCT_NAME:-Example customer portal}"
  export DEV_SERVER_PORT="$port"
  # moto has no sending rate and no GetAccount: send-emails paces to this one instead
  # (a run that limits SES through the fault proxy sets the limit's rate here).
  export SES_FALLBACK_SEND_RATE="${SES_FALLBACK_SEND_RATE:-1000}"
  # The portals profile-link is the OpenID Provider of: the demo portal (infra/demo-portal),
  # and the relying parties nobody here wrote (tests/relying-parties): Apache's
  # mod_auth_openidc on 127.0.0.1:$APACHE_OIDC_PORT and an Authlib client. start_dev_server
  # adds those of DEV_PORTAL_CLIENTS_FILE (write_dev_portal_clients).
  local portal="http://127.0.0.1:${DEMO_PORTAL_PORT:-3100}"
  local apache="http://127.0.0.1:${APACHE_OIDC_PORT:-3200}"
  # The Authlib suite's logout-token receiver (tests/relying-parties/authlib_client.py).
  local authlib_logout="http://127.0.0.1:${AUTHLIB_LOGOUT_PORT:-3300}/backchannel-logout"
  unset PORTAL_CLIENTS_FILE
  export PORTAL_CLIENTS="[{\"id\": \"demo-portal\", \"name\": \"Demo portal\", \"redirect_uris\": [\"$portal/callback\"], \"post_logout_redirect_uris\": [\"$portal/\"], \"client_secret\": \"demo-portal-secret\", \"backchannel_logout_uri\": \"$portal/backchannel-logout\"},
    {\"id\": \"apache-oidc\", \"name\": \"Apache portal\", \"redirect_uris\": [\"$apache/protected/redirect_uri\"], \"post_logout_redirect_uris\": [\"$apache/\"], \"client_secret\": \"apache-oidc-secret\", \"backchannel_logout_uri\": \"$apache/protected/redirect_uri?logout=backchannel\"},
    {\"id\": \"authlib\", \"name\": \"Authlib portal\", \"redirect_uris\": [\"http://127.0.0.1/authlib/callback\"], \"post_logout_redirect_uris\": [], \"client_secret\": \"authlib-client-secret\", \"backchannel_logout_uri\": \"$authlib_logout\"}]"
}

# The portal list the dev server reads (as PORTAL_CLIENTS_FILE): the local
# stack's own (export_dev_server_env), then those in the JSON list DEV_PORTAL_CLIENTS_FILE names, if
# set (your own portal, in the deployment's format: docs/integrating-a-portal.md,
# "Registering your portal"). The whole list is checked by the functions' own parser
# (profile-link-admin portals check): a refused entry stops the start with
# its reason, where a deployment would start without it.
write_dev_portal_clients() {
  [[ -n "${DEV_PORTAL_CLIENTS_FILE:-}" ]] || return 0
  local out="$ROOT/.local/portal-clients-$DEV_SERVER_PORT.json"
  printf '%s' "$PORTAL_CLIENTS" >"$out.base"
  append_json_list "$out.base" DEV_PORTAL_CLIENTS_FILE "$DEV_PORTAL_CLIENTS_FILE" "portal clients" "$out" >/dev/null
  local checked
  if ! checked="$("$(bin_path profile-link-admin)" portals check --file "$out" 2>&1)"; then
    die "DEV_PORTAL_CLIENTS_FILE $DEV_PORTAL_CLIENTS_FILE: $(grep -v ' work: ' <<<"$checked" | tr '\n' ' ')"
  fi
  say "portal clients: ${checked#*work: }"
  unset PORTAL_CLIENTS
  export PORTAL_CLIENTS_FILE="$out"
}

# The provider list the dev server reads (PROVIDERS_FILE): every provider the
# dev identity provider imitates (its /dev-providers.json), then those in the
# JSON list DEV_PROVIDERS_FILE names, if set (your own provider, same format).
write_dev_providers() {
  curl -fsS --max-time 10 -o "$PROVIDERS_FILE.base" "$DEV_IDP_URL/dev-providers.json" ||
    die "could not read the dev identity provider's list at $DEV_IDP_URL/dev-providers.json"
  append_json_list "$PROVIDERS_FILE.base" DEV_PROVIDERS_FILE "${DEV_PROVIDERS_FILE:-}" providers "$PROVIDERS_FILE"
}

# Writes to $5 the JSON list in file $1, then the entries of the JSON list in
# file $3 (none when $3 is empty), each with an "id" not yet used; $2 names the
# variable that named $3 and $4 what the entries are, for the messages. Prints the ids;
# a bad file is one line that says what is wrong with it.
append_json_list() {
  local problem
  { problem="$("$VENV/bin/python" - "$@" 2>&1 1>&3 <<'PY'
import json, sys
base, variable, extra, what, out = sys.argv[1:]
with open(base) as f:
    entries = json.load(f)
if extra:
    try:
        with open(extra) as f:
            added = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"{variable} {extra}: {e}")
    if not isinstance(added, list):
        sys.exit(f"{variable} {extra}: not a JSON list of {what}")
    ids = {e["id"] for e in entries}
    for e in added:
        if not isinstance(e, dict) or e.get("id") in ids:
            sys.exit(f"{variable} {extra}: {e.get('id') if isinstance(e, dict) else e!r} is not a new id")
        ids.add(e["id"])
    entries += added
with open(out, "w") as f:
    json.dump(entries, f, indent=2)
print(" ".join(e["id"] for e in entries))
PY
  )"; } 3>&1 || die "${problem:-could not write $5}"
}

# Creates the table from template.yaml, imports the demo profiles and any
# further profile CSV files given as arguments, starts the dev server.
start_dev_server() {
  local csv ids
  ids="$(write_dev_providers)"
  say "sign-in providers: $ids"
  write_dev_portal_clients
  "$(bin_path profile-link-admin)" table create --template "$ROOT/template.yaml"
  for csv in "$ROOT/infra/demo-profiles.csv" "$@"; do
    "$(bin_path profile-link-admin)" profiles import --quiet "$csv"
  done
  # DEV_SERVER_NAME names its log and pid files: a second stack beside the first has its own.
  local name="${DEV_SERVER_NAME:-dev-server}"
  say "starting the dev server on 127.0.0.1:$DEV_SERVER_PORT"
  start_bg "$name" "$(bin_path profile-link-dev-server)"
  wait_for_http "http://127.0.0.1:$DEV_SERVER_PORT/.well-known/jwks.json" "$name"
}

# Copies the dev server's configuration (read from files and variables) into
# the local SSM under the deployment's default parameter names, so that
# `profile-link-admin doctor` checks the local stack as it checks a deployed one.
copy_dev_config_to_ssm() {
  local clients="${PORTAL_CLIENTS:-}"
  [[ -n "${PORTAL_CLIENTS_FILE:-}" ]] && clients="$(<"$PORTAL_CLIENTS_FILE")"
  "$VENV/bin/python" - "$PROVIDERS_FILE" "$SESSION_SIGNING_KEY_FILE" "$SESSION_PUBLIC_KEYS_FILE" "$clients" <<'PY' ||
import os, sys, boto3
providers, signing, public, clients = sys.argv[1:]
ssm = boto3.client("ssm", endpoint_url=os.environ["AWS_ENDPOINT_URL_SSM"], region_name=os.environ["AWS_REGION"])
for name, kind, value in [
    ("/profile-link/providers", "String", open(providers).read()),
    ("/profile-link/portal-clients", "String", clients),
    ("/profile-link/session-signing-key", "SecureString", open(signing).read()),
    ("/profile-link/session-public-keys", "String", open(public).read()),
]:
    ssm.put_parameter(Name=name, Type=kind, Value=value, Overwrite=True, Tier="Intelligent-Tiering")
PY
    die "could not copy the dev server's configuration into the local SSM"
}

# Every cargo call goes through sccache from the project virtualenv (pinned in
# requirements.lock). Its cache is keyed by the compiler's inputs, so it can be
# shared by every checkout. Its server is this script's own, on a socket under
# the checkout's .local/ (a second server on the same socket would orphan the
# first), stopped when the script ends; scripts it runs inherit it. An idle
# timeout ends it too should the script be killed.
ensure_rust_cache() {
  need cargo "the Rust toolchain"
  [[ "${RUSTC_WRAPPER:-}" == "$VENV/bin/sccache" && -S "${SCCACHE_SERVER_UDS:-}" ]] && return
  # Never another checkout's sccache, even if its variables were inherited.
  unset RUSTC_WRAPPER SCCACHE_SERVER_UDS
  if [[ ! -x "$VENV/bin/sccache" ]]; then
    say "no sccache in $VENV (ensure_python_env installs it): compiling without the shared cache"
    return
  fi
  mkdir -p "$ROOT/.local"
  export SCCACHE_DIR="${SCCACHE_DIR:-$CACHE/sccache}"
  export SCCACHE_CACHE_SIZE="${SCCACHE_CACHE_SIZE:-20G}"
  export SCCACHE_SERVER_UDS="$ROOT/.local/sccache-$$.sock"
  export SCCACHE_IDLE_TIMEOUT=300
  export SCCACHE_LOG_FILE="$ROOT/.local/sccache.log"
  if ! "$VENV/bin/sccache" --start-server >/dev/null 2>&1; then
    say "sccache did not start (see $SCCACHE_LOG_FILE): compiling without the shared cache"
    unset SCCACHE_SERVER_UDS
    return
  fi
  SCCACHE_STARTED=1
  export RUSTC_WRAPPER="$VENV/bin/sccache"
}

stop_rust_cache() {
  if [[ -n "${SCCACHE_STARTED:-}" ]]; then
    "$VENV/bin/sccache" --stop-server >/dev/null 2>&1 || true
    rm -f "$SCCACHE_SERVER_UDS"
    SCCACHE_STARTED=
  fi
}

cargo_build() {
  ensure_rust_cache
  say "building ($*)"
  (cd "$ROOT" && cargo build --locked "$@")
}

bin_path() { echo "$TARGET_DIR/debug/$1"; }

# The demo customer portal (infra/demo-portal): a company's portal signing in
# with profile-link as its OpenID Provider, through openid-client.
ensure_demo_portal_deps() { ensure_npm_deps "$ROOT/infra/demo-portal" "the demo portal's packages"; }

# The demo portal on 127.0.0.1:$1, trusting profile-link at issuer $2, as client
# demo-portal / demo-portal-secret (its defaults). The port is checked first:
# something else answering /healthz there would pass for the portal. $3 names
# its log and pid files (demo-portal): a second portal beside the first has its own.
start_demo_portal() {
  local port="$1" issuer="$2" name="${3:-demo-portal}"
  require_free_port "$port" "demo portal" DEMO_PORTAL_PORT
  say "starting the demo portal on 127.0.0.1:$port (profile-link at $issuer)"
  DEMO_PORTAL_PORT="$port" DEMO_PORTAL_ISSUER="$issuer" start_bg "$name" node "$ROOT/infra/demo-portal/server.mjs"
  wait_for_http "http://127.0.0.1:$port/healthz" "$name"
  require_loopback_only "$port" "the demo portal"
  export DEMO_PORTAL_URL="http://127.0.0.1:$port"
}
