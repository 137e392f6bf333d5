output "id" {
  description = "Identity resource id (attach to Container Apps)."
  value       = azurerm_user_assigned_identity.this.id
}

output "client_id" {
  description = "Client id for DefaultAzureCredential (AZURE_CLIENT_ID)."
  value       = azurerm_user_assigned_identity.this.client_id
}

output "principal_id" {
  description = "Object id of the identity (role assignments)."
  value       = azurerm_user_assigned_identity.this.principal_id
}
