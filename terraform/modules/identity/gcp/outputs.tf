output "email" {
  description = "Service account e-mail."
  value       = google_service_account.this.email
}

output "hmac_access_id" {
  description = "S3-interoperable access key of the service account (MARKETPULSE_S3__ACCESS_KEY)."
  value       = google_storage_hmac_key.this.access_id
}

output "hmac_secret" {
  description = "S3-interoperable secret (MARKETPULSE_S3__SECRET_KEY)."
  value       = google_storage_hmac_key.this.secret
  sensitive   = true
}

output "kafka_password" {
  description = "SASL/PLAIN password for Managed Kafka: the base64 JSON key of the service account."
  value       = google_service_account_key.this.private_key
  sensitive   = true
}
