output "resource_group_name" {
  description = "The platform's resource group."
  value       = azurerm_resource_group.this.name
}

output "vnet_id" {
  description = "The VNet."
  value       = azurerm_virtual_network.this.id
}

output "apps_subnet_id" {
  description = "Subnet delegated to Container Apps."
  value       = azurerm_subnet.apps.id
}

output "cassandra_subnet_id" {
  description = "Subnet of the Cassandra managed instance."
  value       = azurerm_subnet.cassandra.id
}

output "aks_subnet_id" {
  description = "Subnet of the AKS nodes and pods."
  value       = azurerm_subnet.aks.id
}

output "postgres_subnet_id" {
  description = "Subnet delegated to PostgreSQL Flexible Server."
  value       = azurerm_subnet.postgres.id
}

output "powerbi_subnet_id" {
  description = "Subnet delegated to Power BI's virtual network data gateway."
  value       = azurerm_subnet.powerbi.id
}
