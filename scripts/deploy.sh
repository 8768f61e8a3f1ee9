#!/bin/sh
# Deploys one stage, then applies the database migrations with the function
# that was just deployed:
#
#   npm run deploy -- dev        (AWS credentials from the usual AWS_* / profile)
#
# Migrations run after the code is live, so each migration must keep the
# previous release working (add columns and tables first, drop them a release
# later). A failed migration fails this script, and the next deploy retries it.
set -eu
stage=${1:?usage: deploy.sh <local|dev|prod>}
cd "$(dirname "$0")/.."
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off

npx serverless deploy --stage "$stage"
# --log shows the function's output; a function error makes invoke exit non-zero. --data:
# without it, invoke reads the event from stdin whenever stdin is not a terminal.
npx serverless invoke --stage "$stage" --function migrate --log --data "{}"
