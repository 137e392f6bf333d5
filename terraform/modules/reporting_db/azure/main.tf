# Azure Database for PostgreSQL Flexible Server in a delegated subnet (no public access), TLS required,
# and a CanNotDelete lock: Flexible Server has no deletion-protection flag of its own.
resource "azurerm_private_dns_zone" "this" {
  name                = "${var.name}.postgres.database.azure.com"
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "this" {
  name                  = "${var.name}-postgres"
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.this.name
  virtual_network_id    = var.vnet_id
  tags                  = var.tags
}

resource "azurerm_postgresql_flexible_server" "this" {
  name                          = "${var.name}-reporting"
  resource_group_name           = var.resource_group_name
  location                      = var.location
  version                       = var.engine_version
  delegated_subnet_id           = var.subnet_id
  private_dns_zone_id           = azurerm_private_dns_zone.this.id
  public_network_access_enabled = false
  administrator_login           = var.admin_user
  administrator_password        = var.admin_password
  sku_name                      = var.sku_name
  storage_mb                    = var.storage_mb
  backup_retention_days         = 7
  tags                          = var.tags
  depends_on                    = [azurerm_private_dns_zone_virtual_network_link.this]

  lifecycle {
    # Azure picks the zone when none is given; a later plan must not try to move the server.
    ignore_changes = [zone]
  }
}

resource "azurerm_postgresql_flexible_server_configuration" "this" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "ON"
}

resource "azurerm_management_lock" "this" {
  name       = "${var.name}-reporting-no-delete"
  scope      = azurerm_postgresql_flexible_server.this.id
  lock_level = "CanNotDelete"
  notes      = "The reporting database holds API keys and the Power BI facts; remove this lock on purpose."
}
