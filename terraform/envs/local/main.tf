# The local environment: the platform's buckets on the local stack's SeaweedFS and its topics on the local Kafka.
# Cassandra's keyspace comes from `marketpulse stack up`; its tables and PostgreSQL's schema from the app's own
# migrations (`marketpulse db migrate`, run by `stack up`); Redis needs nothing provisioned.
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
  source = "../../modules/object_store/s3_compatible"

  buckets      = module.catalog.buckets
  endpoint_url = "http://${var.stack_host}:${var.s3_port}"
  region       = var.s3_region
  access_key   = var.s3_access_key
  cli          = var.marketpulse_cli
  # Local data is throw-away: `terraform destroy` removes the buckets with every object in them.
  force_destroy = true
}

module "streaming_bus" {
  source = "../../modules/streaming_bus/kafka"

  topics     = module.catalog.topics
  partitions = var.kafka_partitions
  # One broker.
  replication_factor  = 1
  min_insync_replicas = 1
}
