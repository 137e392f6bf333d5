output "secret_ids" {
  description = "Environment variable => versionless Key Vault secret id (Container Apps key_vault_secret_id)."
  value       = { for name, s in azurerm_key_vault_secret.this : name => s.versionless_id }
}

output "vault_uri" {
  description = "The vault's URI."
  value       = azurerm_key_vault.this.vault_uri
}
