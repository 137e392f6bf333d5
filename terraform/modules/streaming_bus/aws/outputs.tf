output "bootstrap_brokers" {
  description = "SASL/IAM over TLS bootstrap brokers (MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS)."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}

output "cluster_arn" {
  description = "The MSK cluster."
  value       = aws_msk_cluster.this.arn
}
