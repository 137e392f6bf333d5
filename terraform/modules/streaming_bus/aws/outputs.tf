output "bootstrap_brokers" {
  description = "SASL/SCRAM over TLS bootstrap brokers, port 9096 (MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS)."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_scram
}

output "cluster_arn" {
  description = "The MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "scram_username" {
  description = "SCRAM user (MARKETPULSE_KAFKA SASL username, app side)."
  value       = var.scram_username
}
