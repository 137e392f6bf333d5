# Event Hubs with its Kafka endpoint: one event hub per topic, SASL/PLAIN with a namespace SAS connection string.
# Retention is the tier's to cap: Standard keeps events 1-7 days, Premium up to 90 (Event Hubs quotas and the
# Premium overview). The catalog asks 30 days for 1-minute bars and 14 for dead letters, so Premium is the
# default; Standard is accepted only when accept_retention_cap says the caller knows, and capped_topics names
# what gets cut.
locals {
  max_retention_days = var.sku == "Premium" ? 90 : 7
  max_partitions     = var.sku == "Premium" ? 100 : 32
  wanted_days        = { for name, t in var.topics : name => max(1, ceil(t.retention_ms / 86400000)) }
  capped_topics      = sort([for name, days in local.wanted_days : name if days > local.max_retention_days])
}

resource "azurerm_eventhub_namespace" "this" {
  name                = "${var.name}-bus"
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = var.sku
  capacity            = var.capacity
  minimum_tls_version = "1.2"
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = length(local.capped_topics) == 0 || var.accept_retention_cap
      error_message = "Event Hubs ${var.sku} keeps at most ${local.max_retention_days} days, shorter than the catalog asks for some topics; use sku = \"Premium\" or set accept_retention_cap = true."
    }
  }
}

resource "azurerm_eventhub" "this" {
  for_each          = var.topics
  name              = each.key
  namespace_id      = azurerm_eventhub_namespace.this.id
  partition_count   = min(var.partitions, local.max_partitions)
  message_retention = min(local.wanted_days[each.key], local.max_retention_days)
}

# The clients' credential: send and listen, no manage (topics come from Terraform only).
resource "azurerm_eventhub_namespace_authorization_rule" "this" {
  name                = "marketpulse-clients"
  namespace_name      = azurerm_eventhub_namespace.this.name
  resource_group_name = var.resource_group_name
  listen              = true
  send                = true
  manage              = false
}
