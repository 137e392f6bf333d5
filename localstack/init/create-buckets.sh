#!/bin/sh
# Create the lake's buckets on an S3-compatible server with the MinIO client (used by docker-compose).
# The local stack does the same from Python (marketpulse.stores.objectstore.ensure_buckets).
set -eu
prefix="${MARKETPULSE_S3__BUCKET_PREFIX:-marketpulse}"
mc alias set lake "${S3_ENDPOINT:-http://127.0.0.1:9000}" \
  "${MARKETPULSE_S3__ACCESS_KEY:-marketpulse}" "${MARKETPULSE_S3__SECRET_KEY:-marketpulse-secret}"
for area in raw features models checkpoints; do
  mc mb --ignore-existing "lake/${prefix}-${area}"
done
