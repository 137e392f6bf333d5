output "hosts" {
  description = "Seed nodes (MARKETPULSE_CASSANDRA__HOSTS)."
  value       = azurerm_cosmosdb_cassandra_datacenter.this.seed_node_ip_addresses
}
