output "storage_account_id" {
  description = "The storage account."
  value       = azurerm_storage_account.this.id
}

output "storage_account_name" {
  description = "The storage account's name."
  value       = azurerm_storage_account.this.name
}

output "container_names" {
  description = "Lake area => container name."
  value       = { for area, c in azurerm_storage_container.this : area => c.name }
}

output "filesystem_ids" {
  description = "Lake area => ADLS Gen2 filesystem id (Synapse needs one)."
  value       = { for area, c in azurerm_storage_container.this : area => "https://${azurerm_storage_account.this.name}.dfs.core.windows.net/${c.name}" }
}
