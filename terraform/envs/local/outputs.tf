output "buckets" {
  description = "Lake area => bucket name."
  value       = module.object_store.bucket_names
}

output "topics" {
  description = "Every topic provisioned, dead-letter topics included."
  value       = module.streaming_bus.topic_names
}

output "app_env" {
  description = "MARKETPULSE_* settings that point the application at this environment (`marketpulse infra env local`)."
  value = {
    MARKETPULSE_ENVIRONMENT               = "local"
    MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS  = var.kafka_bootstrap_servers
    MARKETPULSE_KAFKA__DEFAULT_PARTITIONS = tostring(var.kafka_partitions)
    MARKETPULSE_S3__ENDPOINT_URL          = "http://${var.stack_host}:${var.s3_port}"
    MARKETPULSE_S3__ACCESS_KEY            = var.s3_access_key
    MARKETPULSE_S3__REGION                = var.s3_region
    MARKETPULSE_S3__BUCKET_PREFIX         = module.catalog.bucket_prefix
    MARKETPULSE_CASSANDRA__HOSTS          = jsonencode([var.stack_host])
    MARKETPULSE_CASSANDRA__PORT           = tostring(var.cassandra_port)
    MARKETPULSE_CASSANDRA__KEYSPACE       = var.cassandra_keyspace
    MARKETPULSE_REDIS__URL                = "redis://${var.stack_host}:${var.redis_port}/0"
    MARKETPULSE_POSTGRES__HOST            = var.stack_host
    MARKETPULSE_POSTGRES__PORT            = tostring(var.postgres_port)
  }
}

output "app_secrets" {
  description = "Secret MARKETPULSE_* settings, kept apart so plain `terraform output` does not print them."
  sensitive   = true
  value = {
    MARKETPULSE_S3__SECRET_KEY = var.s3_secret_key
  }
}
