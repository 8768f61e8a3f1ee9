#!/bin/sh
# A throwaway certificate authority and a broker certificate signed by it,
# for a local broker's TLS listener:
#
#   sh make-certs.sh <dir> [hostname...]       (CERT_DAYS: validity, default 30)
#
# writes into <dir> (which must exist):
#   ca.pem        the CA certificate: what clients trust (KAFKA_SSL_CA_FILE)
#   broker.pem    the broker's certificate, valid for 127.0.0.1, localhost and each
#                 hostname (or IPv4 address)
#   broker.key    its private key (PKCS#8, unencrypted, readable by the owner only)
# The CA's private key is deleted once the broker certificate is signed: nothing
# else can ever be signed by it.
#
# One script for every way a local broker runs (the Apache Kafka JVM, a Redpanda
# container, the compose stack's init container), so all of them present the
# same kind of certificate. Needs only openssl (1.1.1 or 3.x).
set -eu
dir=${1:?usage: make-certs.sh <dir> [hostname...]}
shift
cd "$dir"
umask 077
days=${CERT_DAYS:-30}

names="IP:127.0.0.1,DNS:localhost"
for name in "$@"; do
  case "$name" in
    *[!0-9.]*) names="$names,DNS:$name" ;;
    *) names="$names,IP:$name" ;;
  esac
done

# EC P-256: small, fast to generate, and accepted by Kafka's PEM key stores, Redpanda and Node.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=payment-ledger local CA" \
  -addext "basicConstraints=critical,CA:true" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out broker.key
openssl req -new -key broker.key -subj "/CN=localhost" -out broker.csr
cat >broker.ext <<EOF
basicConstraints=critical,CA:false
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$names
EOF
openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
  -extfile broker.ext -out broker.pem 2>/dev/null

rm -f ca.key ca.srl broker.csr broker.ext
# Readable by whoever runs the broker (a container's own user included); the key stays private
# to this user unless the caller widens it.
chmod 644 ca.pem broker.pem
