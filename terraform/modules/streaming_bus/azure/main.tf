# Event Hubs with its Kafka endpoint (Standard tier and up): one event hub per topic.
resource "azurerm_eventhub_namespace" "this" {
  name                = "${var.name}-bus"
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = "Standard"
  capacity            = var.throughput_units
  minimum_tls_version = "1.2"
  tags                = var.tags
}

resource "azurerm_eventhub" "this" {
  for_each     = var.topics
  name         = each.key
  namespace_id = azurerm_eventhub_namespace.this.id
  # Standard tier caps partitions at 32 and retention at 7 days.
  partition_count   = min(var.partitions, 32)
  message_retention = min(7, max(1, ceil(each.value.retention_ms / 86400000)))
}
