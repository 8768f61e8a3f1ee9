#!/bin/sh
# Deploys the local stage into LocalStack and migrates its database:
#
#   docker compose up -d --wait        (postgres, redpanda, localstack)
#   npm run deploy:local
#
# The framework talks to LocalStack through the standard AWS_ENDPOINT_URL
# (serverless-localstack does not work with this framework version).
set -eu
cd "$(dirname "$0")/.."

port=${LOCALSTACK_PORT:-4566}
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://localhost:$port"
# The deployment bucket is addressed virtual-host style; LocalStack serves that
# under s3.localhost.localstack.cloud, a public name for 127.0.0.1.
export AWS_ENDPOINT_URL_S3="http://s3.localhost.localstack.cloud:$port"

# The functions run as containers on the compose network: services by name.
export DATABASE_URL=${LOCALSTACK_DATABASE_URL:-postgres://postgres:postgres@postgres:5432/ledger}
export KAFKA_BROKERS=${LOCALSTACK_KAFKA_BROKERS:-redpanda:29092}
# Inside LocalStack the SDK already points at LocalStack (it sets AWS_ENDPOINT_URL).
unset LAMBDA_ENDPOINT

curl -fsS "http://localhost:$port/_localstack/init/ready" >/dev/null ||
  { echo "LocalStack is not answering on port $port: docker compose up -d --wait" >&2; exit 1; }

exec sh scripts/deploy.sh "${1:-local}"
