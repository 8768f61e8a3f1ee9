#!/bin/sh
# Runs a TypeScript file on Node 22+ (scripts/with-node.sh) with tsx's loader
# in this very process:
#
#   sh scripts/ts.sh scripts/migrate.ts
#
# Not the tsx CLI: it runs the file in a child process and, when the child has
# not acknowledged a signal within 30 ms (a busy event loop), kills it with
# SIGKILL, so a Ctrl-C could cut a script's own shutdown short.
set -eu
exec sh "$(dirname -- "$0")/with-node.sh" node --import tsx "$@"
