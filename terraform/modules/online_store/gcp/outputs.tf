output "url" {
  description = "rediss:// URL (MARKETPULSE_REDIS__URL)."
  value       = "rediss://${google_redis_instance.this.host}:${google_redis_instance.this.port}/0"
}
