# The user-assigned identity every workload runs as, with data-plane roles on storage and Event Hubs.
resource "azurerm_user_assigned_identity" "this" {
  name                = "${var.name}-app"
  resource_group_name = var.resource_group_name
  location            = var.location
  tags                = var.tags
}

resource "azurerm_role_assignment" "this" {
  for_each = {
    storage  = { scope = var.storage_account_id, role = "Storage Blob Data Contributor" }
    eventhub = { scope = var.eventhub_namespace_id, role = "Azure Event Hubs Data Owner" }
  }
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.this.principal_id
}
