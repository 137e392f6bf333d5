output "url" {
  description = "rediss:// URL of the primary (MARKETPULSE_REDIS__URL)."
  value       = "rediss://${aws_elasticache_replication_group.this.primary_endpoint_address}:6379/0"
}
