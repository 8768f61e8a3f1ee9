#!/bin/sh
# Deploys a stage (default: local) into a running LocalStack and migrates its
# database, then prints the api's function URL and a ready-to-paste buf curl:
#
#   docker compose up -d --wait        (postgres, pgbouncer, redpanda, localstack), or host mode (README)
#   npm run deploy:local               (or: npm run deploy:local -- dev)
#
# The framework talks to LocalStack through the standard AWS_ENDPOINT_URL
# (serverless-localstack does not work with this framework version).
set -eu
cd "$(dirname "$0")/.."
stage=${1:-local}

# An IP address, not a name: the AWS SDK then addresses S3 buckets path-style
# (…/bucket/key), so no *.localhost.localstack.cloud name needs public DNS.
endpoint=${LOCALSTACK_ENDPOINT:-http://127.0.0.1:${LOCALSTACK_PORT:-4566}}
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="$endpoint" AWS_ENDPOINT_URL_S3="$endpoint"

# Where the functions find Postgres and Kafka. With Docker they run as
# containers on the compose network (services by name); in host mode they run
# on this machine and get host addresses from the caller. The functions go
# through the transaction-mode pooler, as in production; migrate goes to
# Postgres itself (MIGRATION_DATABASE_URL), as the deploy does.
export DATABASE_URL=${LOCALSTACK_DATABASE_URL:-postgres://postgres:postgres@pgbouncer:6432/ledger}
export MIGRATION_DATABASE_URL=${LOCALSTACK_MIGRATION_DATABASE_URL:-postgres://postgres:postgres@postgres:5432/ledger}
export KAFKA_BROKERS=${LOCALSTACK_KAFKA_BROKERS:-redpanda:29092}
# Inside LocalStack the SDK already points at LocalStack (it sets AWS_ENDPOINT_URL).
unset LAMBDA_ENDPOINT
# Community LocalStack has no HTTP API (API Gateway v2): the local stage serves the api
# through a function URL instead (serverless.ts).
export API_FUNCTION_URL=true

# Fails when an init script (the dev stage's parameters and secrets) ended in ERROR.
node localstack/ready.mjs "$endpoint"

sh scripts/deploy.sh "$stage"
[ "$stage" = local ] && npx tsx localstack/print-api.ts "$endpoint"
exit 0
