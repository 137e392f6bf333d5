#!/bin/sh
# Create the lake's buckets on any S3-compatible endpoint with the project's CLI (idempotent).
# Endpoint and keys come from MARKETPULSE_S3__* like every command; `marketpulse stack up` does the same from
# Python (marketpulse.stores.objectstore.ensure_buckets) and docker-compose passes `-bucket=` to `weed mini`.
set -eu
prefix="${MARKETPULSE_S3__BUCKET_PREFIX:-marketpulse}"
exec "${MARKETPULSE_CLI:-marketpulse}" infra bucket create \
  "${prefix}-raw" "${prefix}-features" "${prefix}-models" "${prefix}-checkpoints"
