#!/bin/sh
# Deploys one stage, with its database migrations applied before the new code
# serves anyone:
#
#   npm run deploy -- dev        (AWS credentials from the usual AWS_* / profile)
#
# When the stage already runs, the migrate function alone gets the packaged
# code and is invoked first (scripts/migrate-first.ts), so the new api never
# meets a database without the schema and SQL functions it calls; then the
# whole stack is deployed from the same package, and migrate runs
# once more (a no-op, except on the first deploy of a stage, which has no
# traffic yet). The previous release keeps running against the migrated
# database meanwhile, so each migration must keep it working (add columns and
# tables first, drop them a release later). A failed migration fails this
# script before the new code is deployed; the next deploy retries it.
# DEPLOY_MIGRATE_FIRST=0 skips the first step, for a release whose migrate
# function needs resources only the full deploy creates.
#
# Before all that, the Kafka topics (npm run topics): the brokers create none
# by themselves, so every topic the new code writes must exist before it
# runs. The step creates missing ones and fails the deploy when an existing
# one differs from the KAFKA_TOPIC_* settings. It reaches the cluster with
# this shell's KAFKA_* settings, as a login that may create topics (not the
# functions' own; docs/deploying.md). DEPLOY_TOPICS=0 skips it, for clusters
# whose topics something else manages (the check still runs at every drain:
# a missing topic alarms).
set -eu
stage=${1:?usage: deploy.sh <local|dev|prod>}
cd "$(dirname "$0")/.."
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off

if [ "${DEPLOY_TOPICS:-1}" != 0 ]; then
  if [ -z "${KAFKA_BROKERS:-}" ]; then
    echo "deploy: the topics step needs the $stage cluster's Kafka settings (KAFKA_BROKERS, KAFKA_SSL," >&2
    echo "deploy: KAFKA_SASL_MECHANISM and a login allowed to create topics); see docs/deploying.md," >&2
    echo "deploy: or DEPLOY_TOPICS=0 when the topics are managed elsewhere" >&2
    exit 1
  fi
  echo "deploy: topics of $stage on $KAFKA_BROKERS"
  sh scripts/ts.sh scripts/topics.ts
fi

# One package for both steps, so migrate runs exactly the code the stack deploys. A folder
# of this run's own: a plain `serverless package` or `serverless offline` in the same
# checkout clears .serverless/, and would take the artifacts from under the deploy.
package=".esbuild/deploy-$stage-$$"
trap 'rm -rf "$package"' EXIT
npx serverless package --stage "$stage" --package "$package"
if [ "${DEPLOY_MIGRATE_FIRST:-1}" != 0 ]; then
  npx tsx scripts/migrate-first.ts "payment-ledger-$stage-migrate" "$package/migrate.zip"
fi
echo "deploy: deploying the $stage stack"
npx serverless deploy --stage "$stage" --package "$package"
echo "deploy: migrating $stage"
# --log shows the function's output; a function error makes invoke exit non-zero. --data:
# without it, invoke reads the event from stdin whenever stdin is not a terminal.
npx serverless invoke --stage "$stage" --function migrate --log --data "{}"
