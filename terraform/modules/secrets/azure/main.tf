# Azure Key Vault (RBAC mode): one secret per MARKETPULSE_* value; the app identity may read, the caller of
# terraform may write. Purge protection keeps a deleted vault's secrets recoverable for the retention period.
data "azurerm_client_config" "current" {}

resource "azurerm_key_vault" "this" {
  name                       = var.vault_name
  resource_group_name        = var.resource_group_name
  location                   = var.location
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 7
  tags                       = var.tags
}

resource "azurerm_role_assignment" "this" {
  for_each = {
    writer = { principal = data.azurerm_client_config.current.object_id, role = "Key Vault Secrets Officer" }
    reader = { principal = var.reader_principal_id, role = "Key Vault Secrets User" }
  }
  scope                = azurerm_key_vault.this.id
  role_definition_name = each.value.role
  principal_id         = each.value.principal
}

locals {
  names = nonsensitive(toset(keys(var.values)))
}

resource "azurerm_key_vault_secret" "this" {
  for_each = local.names
  # Key Vault secret names allow letters, digits and dashes only.
  name         = lower(replace(each.key, "_", "-"))
  value        = var.values[each.key]
  key_vault_id = azurerm_key_vault.this.id
  depends_on   = [azurerm_role_assignment.this]
}
