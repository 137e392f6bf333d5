output "topics" {
  description = "Topic name => { retention_ms, dead_letter } for every topic and dead-letter topic."
  value       = merge(local.base_topics, local.dead_letter_topics)
}

output "buckets" {
  description = "Lake area (raw, features, models, checkpoints) => bucket name."
  value       = local.buckets
}

output "bucket_prefix" {
  description = "The prefix the buckets were named with (MARKETPULSE_S3__BUCKET_PREFIX)."
  value       = var.bucket_prefix
}
