output "workspace_name" {
  description = "Synapse workspace to submit Spark jobs to."
  value       = azurerm_synapse_workspace.this.name
}

output "spark_pool_name" {
  description = "The Spark pool."
  value       = azurerm_synapse_spark_pool.this.name
}
