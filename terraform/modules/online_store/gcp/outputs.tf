output "url" {
  description = "rediss:// URL with the AUTH string, verifying the server against ca_path (MARKETPULSE_REDIS__URL, a secret)."
  value       = "rediss://:${google_redis_instance.this.auth_string}@${google_redis_instance.this.host}:${google_redis_instance.this.port}/0?ssl_cert_reqs=required&ssl_ca_certs=${var.ca_path}"
  sensitive   = true
}

output "server_ca" {
  description = "PEM of the instance's server CA (mounted at ca_path in every client)."
  value       = google_redis_instance.this.server_ca_certs[0].cert
}
