"""Runs inside LocalStack once it is ready (the Docker image, and host mode).

Seeds the SSM parameters and secrets the dev stage resolves at deploy time, so
`serverless deploy --stage dev` against LocalStack rehearses the same wiring as
real AWS: the functions' database secret names the transaction-mode pooler (as
RDS Proxy's endpoint in AWS), migrate's names Postgres itself. Values point at
the compose services; host mode, where the functions run on this machine,
passes DEV_DATABASE_URL, DEV_MIGRATION_DATABASE_URL, DEV_KAFKA_BROKERS and the
dev stage's Kafka login (DEV_KAFKA_USERNAME, DEV_KAFKA_PASSWORD: a SCRAM-SHA-256
login on the local broker's SASL_SSL listener, as the dev stage logs in) to
LocalStack instead (and DEV_JWT_JWKS_URL, an identity provider's key set on
this machine, when tests call the dev stage's api). Idempotent: LocalStack
may run it again.

A Python script runs in LocalStack's own process with its internal AWS clients:
no AWS CLI to start per call, and none of AWS CLI v1's habit of fetching a
parameter value that looks like a URL (http://...) instead of storing it. Any
exception leaves the script in state ERROR, which the readiness checks
(localstack/ready.mjs, the compose health check) report.
"""

import json
import os

from localstack.aws.connect import connect_to

REGION = "us-east-1"
PREFIX = "/payment-ledger/dev"

database_url = os.environ.get("DEV_DATABASE_URL") or "postgres://postgres:postgres@pgbouncer:6432/ledger"
migration_database_url = (
    os.environ.get("DEV_MIGRATION_DATABASE_URL") or "postgres://postgres:postgres@postgres:5432/ledger"
)
parameters = {
    "kafka-brokers": os.environ.get("DEV_KAFKA_BROKERS") or "redpanda:29092",
    "outbox-batch-size": "500",
    "outbox-max-attempts": "5",
    "jwt-issuer": "http://localhost/payment-ledger",
    "jwt-audience": "payment-ledger",
    "jwt-jwks-url": os.environ.get("DEV_JWT_JWKS_URL") or "http://localhost/.well-known/jwks.json",
    "jwt-operator-claim": "scope",
    "cors-allowed-origins": "http://localhost:5173",
}
secrets = {
    "payment-ledger/dev/database": {"url": database_url},
    "payment-ledger/dev/database-migrations": {"url": migration_database_url},
    "payment-ledger/dev/kafka": {
        "username": os.environ.get("DEV_KAFKA_USERNAME") or "payment-ledger",
        "password": os.environ.get("DEV_KAFKA_PASSWORD") or "local-only",
    },
    "payment-ledger/dev/page-token": {"current": "local-only-page-token-key-of-the-dev-rehearsal"},
}

clients = connect_to(region_name=REGION)
for name, value in parameters.items():
    clients.ssm.put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type="String", Overwrite=True)
for secret_id, value in secrets.items():
    try:
        clients.secretsmanager.create_secret(Name=secret_id, SecretString=json.dumps(value))
    except clients.secretsmanager.exceptions.ResourceExistsException:
        clients.secretsmanager.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))

print("payment-ledger: dev stage parameters and secrets seeded")
