# The local environment: the platform's buckets on the local stack's MinIO and its topics on the local Kafka.
# Cassandra's keyspace comes from `marketpulse stack up` and its tables from the app's own migrations
# (marketpulse.stores.cassandra.migrate); Redis and PostgreSQL need nothing provisioned.
provider "minio" {
  minio_server   = "${var.stack_host}:${var.s3_port}"
  minio_user     = var.s3_access_key
  minio_password = var.s3_secret_key
  minio_region   = var.s3_region
  minio_ssl      = false
}

provider "kafka" {
  bootstrap_servers = split(",", var.kafka_bootstrap_servers)
  tls_enabled       = false
  kafka_version     = "3.9.0"
  timeout           = 60
}

module "catalog" {
  source = "../../modules/catalog"

  bucket_prefix = var.bucket_prefix
  topic_prefix  = var.topic_prefix
}

module "object_store" {
  source = "../../modules/object_store/minio"

  buckets = module.catalog.buckets
  # Not force_destroy: aminueza/minio 2.5.1 crashes on that path. `marketpulse infra destroy` empties the
  # buckets first; by hand, empty them (mc rm --recursive --force) before `terraform destroy`.
  force_destroy = false
}

module "streaming_bus" {
  source = "../../modules/streaming_bus/kafka"

  topics     = module.catalog.topics
  partitions = var.kafka_partitions
  # One broker.
  replication_factor  = 1
  min_insync_replicas = 1
}
