#!/bin/sh
# Runs inside LocalStack once it is ready (the Docker image, or host mode, where
# AWS_ENDPOINT_URL points awslocal at this LocalStack's port). Seeds the SSM
# parameters and secrets the dev stage resolves at deploy time, so
# `serverless deploy --stage dev` against LocalStack rehearses the same wiring
# as real AWS. Values point at the compose services; host mode, where the
# functions run on this machine, passes DEV_DATABASE_URL and DEV_KAFKA_BROKERS
# to LocalStack instead. Idempotent: LocalStack may
# run it again. Any failure leaves the script in state ERROR, which the
# readiness checks (localstack/ready.mjs, the compose health check) report.
set -eu

# awslocal is AWS CLI v1, which by default fetches the content of a parameter
# value that looks like a URL (http://…) instead of storing the text.
config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf '[default]\ncli_follow_urlparam = false\n' >"$config"
export AWS_CONFIG_FILE="$config"

param() {
  awslocal ssm put-parameter --overwrite --type String \
    --name "/payment-ledger/dev/$1" --value "$2" >/dev/null
}

secret() {
  awslocal secretsmanager create-secret --name "$1" --secret-string "$2" >/dev/null 2>&1 ||
    awslocal secretsmanager put-secret-value --secret-id "$1" --secret-string "$2" >/dev/null
}

param kafka-brokers "${DEV_KAFKA_BROKERS:-redpanda:29092}"
param outbox-batch-size "500"
param outbox-max-attempts "5"
param jwt-issuer "http://localhost/payment-ledger"
param jwt-audience "payment-ledger"
param jwt-jwks-url "http://localhost/.well-known/jwks.json"
param jwt-operator-claim "scope"
param cors-allowed-origins "http://localhost:5173"

secret payment-ledger/dev/database "{\"url\":\"${DEV_DATABASE_URL:-postgres://postgres:postgres@postgres:5432/ledger}\"}"
secret payment-ledger/dev/kafka '{"username":"payment-ledger","password":"local-only"}'

# Read one URL-valued parameter back: the stored text must be the URL itself.
stored=$(awslocal ssm get-parameter --name /payment-ledger/dev/jwt-jwks-url --query Parameter.Value --output text)
[ "$stored" = "http://localhost/.well-known/jwks.json" ] ||
  { echo "payment-ledger: jwt-jwks-url stored as '$stored'" >&2; exit 1; }

echo "payment-ledger: dev stage parameters and secrets seeded"
