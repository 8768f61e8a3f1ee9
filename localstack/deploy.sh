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
# containers on the compose network (services by name; the broker's CA mounted
# at /etc/kafka-tls, see docker-compose.yml); in host mode they run on this
# machine and get host addresses and the CA's path from the caller
# (LOCALSTACK_KAFKA_*: KAFKA_BROKERS, KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SASL_*).
# The functions go through the transaction-mode pooler, as in production;
# migrate goes to Postgres itself (MIGRATION_DATABASE_URL), as the deploy does.
export DATABASE_URL=${LOCALSTACK_DATABASE_URL:-postgres://postgres:postgres@pgbouncer:6432/ledger}
export MIGRATION_DATABASE_URL=${LOCALSTACK_MIGRATION_DATABASE_URL:-postgres://postgres:postgres@postgres:5432/ledger}
export KAFKA_BROKERS=${LOCALSTACK_KAFKA_BROKERS:-redpanda:29092}
export KAFKA_SSL=${LOCALSTACK_KAFKA_SSL:-true}
export KAFKA_SSL_CA_FILE=${LOCALSTACK_KAFKA_SSL_CA_FILE:-/etc/kafka-tls/ca.pem}
export KAFKA_SASL_MECHANISM=${LOCALSTACK_KAFKA_SASL_MECHANISM:-scram-sha-512}
export KAFKA_SASL_USERNAME=${LOCALSTACK_KAFKA_SASL_USERNAME:-payment-ledger}
export KAFKA_SASL_PASSWORD=${LOCALSTACK_KAFKA_SASL_PASSWORD:-local-only}
export KAFKA_TOPIC_REPLICATION_FACTOR=${LOCALSTACK_KAFKA_TOPIC_REPLICATION_FACTOR:-1}
export KAFKA_TOPIC_MIN_INSYNC_REPLICAS=${LOCALSTACK_KAFKA_TOPIC_MIN_INSYNC_REPLICAS:-1}
# Inside LocalStack the SDK already points at LocalStack (it sets AWS_ENDPOINT_URL).
unset LAMBDA_ENDPOINT
# Community LocalStack has no HTTP API (API Gateway v2): the local stage serves the api
# through a function URL instead (infra/deployment.ts).
export API_FUNCTION_URL=true

# Fails when an init script (the dev stage's parameters and secrets) ended in ERROR.
node localstack/ready.mjs "$endpoint"

# The topics (npm run topics), made from this machine: in host mode with the functions' own
# settings; with Docker through the broker's host listener and the CA on this machine
# (LOCALSTACK_HOST_KAFKA_BROKERS / _SSL_CA_FILE, default the compose stack's).
if [ -n "${LOCALSTACK_KAFKA_BROKERS:-}" ]; then
  sh scripts/ts.sh scripts/topics.ts
else
  KAFKA_BROKERS=${LOCALSTACK_HOST_KAFKA_BROKERS:-127.0.0.1:9092} \
    KAFKA_SSL_CA_FILE=${LOCALSTACK_HOST_KAFKA_SSL_CA_FILE:-.dev/kafka-tls/ca.pem} \
    sh scripts/ts.sh scripts/topics.ts
fi

DEPLOY_TOPICS=0 sh scripts/deploy.sh "$stage"
[ "$stage" = local ] && npx tsx localstack/print-api.ts "$endpoint"
exit 0
