output "url" {
  description = "rediss:// URL with the access key (MARKETPULSE_REDIS__URL)."
  value       = "rediss://:${azurerm_redis_cache.this.primary_access_key}@${azurerm_redis_cache.this.hostname}:${azurerm_redis_cache.this.ssl_port}/0"
  sensitive   = true
}
