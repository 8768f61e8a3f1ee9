#!/bin/sh
# Packages every stage and scans the CloudFormation templates:
#   checkov  (security) on dev and prod, the stages deployed to AWS: zero failed checks.
#            Accepted findings are suppressed in the template itself (resource Metadata,
#            see infra/scan-suppressions.ts), each with its reason; checkov prints them as skipped.
#   cfn-lint (validity) on local, dev and prod: zero errors.
# Both come from PyPI, pinned, in a virtualenv under .cache/ (git-ignored), built
# once per pin set. Run it with Node 22+ on PATH: `npm run scan`.
#
#   scripts/scan-templates.sh [--keep DIR]   keep the packaged stages in DIR
set -eu
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30
CFN_LINT_VERSION=1.58.0
# cfn-lint rules we do not enforce, and why:
#   W3005  "dependency already enforced": the framework writes DependsOn on roles and
#          integrations that a GetAtt/Ref already implies. Harmless, and not ours to change.
CFN_LINT_IGNORE=W3005

keep=""
if [ "${1:-}" = "--keep" ]; then keep=${2:?--keep needs a directory}; fi

# Python 3.13 (pyenv's, when there is one), else the newest python3 on PATH.
python=""
if command -v pyenv >/dev/null 2>&1; then
  prefix=$(pyenv prefix 3.13 2>/dev/null | head -n 1 || true)
  if [ -n "$prefix" ] && [ -x "$prefix/bin/python3" ]; then python="$prefix/bin/python3"; fi
fi
if [ -z "$python" ]; then python=$(command -v python3.13 || command -v python3 || true); fi
if [ -z "$python" ]; then
  echo "scan: no python3 found (need Python 3.9+, preferably 3.13)" >&2
  exit 1
fi
pyversion=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

venv=".cache/scanners-py$pyversion-checkov$CHECKOV_VERSION-cfnlint$CFN_LINT_VERSION"
if [ ! -x "$venv/bin/checkov" ] || [ ! -x "$venv/bin/cfn-lint" ]; then
  echo "scan: installing checkov $CHECKOV_VERSION and cfn-lint $CFN_LINT_VERSION (Python $pyversion) into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "checkov==$CHECKOV_VERSION" "cfn-lint==$CFN_LINT_VERSION"
fi

work=${keep:-$(mktemp -d "${TMPDIR:-/tmp}/ledger-scan.XXXXXX")}
build=".esbuild/scan-$$"
cleanup() {
  rm -rf "$build"
  if [ -z "$keep" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

status=0
for stage in local dev prod; do
  echo "scan: serverless package --stage $stage"
  # No AWS credentials or config: packaging must never need them.
  env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_EC2_METADATA_DISABLED=true \
    SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off ESBUILD_WORK_FOLDER="$build/$stage" \
    node node_modules/serverless/bin/serverless.js package --stage "$stage" --package "$work/$stage" \
    >"$work/$stage.package.log" 2>&1 || {
    cat "$work/$stage.package.log"
    echo "scan: packaging $stage failed"
    exit 1
  }
  template="$work/$stage/cloudformation-template-update-stack.json"

  echo "scan: cfn-lint $stage"
  if ! "$venv/bin/cfn-lint" --non-zero-exit-code error --ignore-checks "$CFN_LINT_IGNORE" -- "$template"; then
    echo "scan: cfn-lint found errors in the $stage template"
    status=1
  fi

  # The local stage never reaches AWS (serverless offline, LocalStack): no data key, no VPC.
  if [ "$stage" = local ]; then continue; fi
  echo "scan: checkov $stage"
  report="$work/$stage.checkov.txt"
  if "$venv/bin/checkov" --file "$template" --framework cloudformation --compact --skip-download \
    --output cli >"$report" 2>&1; then
    grep -E "^(Passed|Failed|Skipped) checks" "$report" || true
  else
    cat "$report"
    echo "scan: checkov failed on the $stage template"
    status=1
  fi
done

if [ "$status" -ne 0 ]; then
  echo "scan: FAILED"
  exit "$status"
fi
echo "scan: templates clean (checkov: 0 failed on dev and prod; cfn-lint: 0 errors on local, dev and prod)"
