output "url" {
  description = "rediss:// URL of the primary with the AUTH token (MARKETPULSE_REDIS__URL, a secret); Amazon's CA is public."
  value       = "rediss://:${var.auth_token}@${aws_elasticache_replication_group.this.primary_endpoint_address}:6379/0"
  sensitive   = true
}
