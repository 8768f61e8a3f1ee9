#!/bin/sh
# Runs inside LocalStack once it is ready. Seeds the SSM parameters and
# secrets the dev stage resolves at deploy time, so `serverless deploy --stage
# dev` against LocalStack rehearses the same wiring as real AWS. Values point
# at the compose services. Idempotent: LocalStack may run it again.
set -eu

param() {
  awslocal ssm put-parameter --overwrite --type String \
    --name "/payment-ledger/dev/$1" --value "$2" >/dev/null
}

secret() {
  awslocal secretsmanager create-secret --name "$1" --secret-string "$2" >/dev/null 2>&1 ||
    awslocal secretsmanager put-secret-value --secret-id "$1" --secret-string "$2" >/dev/null
}

param kafka-brokers "redpanda:29092"
param outbox-batch-size "500"
param outbox-max-attempts "5"
param jwt-issuer "http://localhost/payment-ledger"
param jwt-audience "payment-ledger"
param jwt-jwks-url "http://localhost/.well-known/jwks.json"
param jwt-operator-claim "scope"
param cors-allowed-origins "http://localhost:5173"

secret payment-ledger/dev/database '{"url":"postgres://postgres:postgres@postgres:5432/ledger"}'
secret payment-ledger/dev/kafka '{"username":"payment-ledger","password":"local-only"}'

echo "payment-ledger: dev stage parameters and secrets seeded"
