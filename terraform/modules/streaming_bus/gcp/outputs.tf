output "bootstrap_servers" {
  description = "Bootstrap address (SASL/OAUTHBEARER with the service account) (MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS)."
  value       = "bootstrap.${google_managed_kafka_cluster.this.cluster_id}.${var.region}.managedkafka.${var.project}.cloud.goog:9092"
}

output "topic_names" {
  description = "The topics provisioned."
  value       = sort(keys(google_managed_kafka_topic.this))
}
