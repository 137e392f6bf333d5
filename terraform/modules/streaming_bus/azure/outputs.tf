output "namespace_id" {
  description = "The Event Hubs namespace."
  value       = azurerm_eventhub_namespace.this.id
}

output "bootstrap_servers" {
  description = "Kafka endpoint of the namespace (SASL_SSL) (MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS)."
  value       = "${azurerm_eventhub_namespace.this.name}.servicebus.windows.net:9093"
}

output "topic_names" {
  description = "Event hubs (topics) provisioned."
  value       = sort(keys(azurerm_eventhub.this))
}

output "connection_string" {
  description = "SAS connection string of the clients' rule: the SASL/PLAIN password (username $ConnectionString)."
  value       = azurerm_eventhub_namespace_authorization_rule.this.primary_connection_string
  sensitive   = true
}

output "capped_topics" {
  description = "Topics whose catalog retention exceeds the tier's cap (empty on Premium)."
  value       = module.retention.capped_topics
}
