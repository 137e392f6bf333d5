# Azure Cache for Redis, TLS only.
resource "azurerm_redis_cache" "this" {
  name                 = "${var.name}-cache"
  resource_group_name  = var.resource_group_name
  location             = var.location
  sku_name             = "Standard"
  family               = "C"
  capacity             = var.capacity
  minimum_tls_version  = "1.2"
  non_ssl_port_enabled = false
  redis_version        = "6"
  tags                 = var.tags
}
