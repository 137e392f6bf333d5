# Event Hubs with its Kafka endpoint: one event hub per topic, SASL/PLAIN with a namespace SAS connection string.
# Retention is the tier's to cap: Standard keeps events 1-7 days, Premium up to 90 (Event Hubs quotas and the
# Premium overview). The catalog asks 30 days for 1-minute bars and 14 for dead letters, so Premium is the
# default; Standard is accepted only when accept_retention_cap says the caller knows, and capped_topics names
# what gets cut.
# The caps' arithmetic lives in ../retention, provider-free, where `terraform test` checks it.
module "retention" {
  source     = "../retention"
  tier       = var.sku == "Premium" ? "eventhubs_premium" : "eventhubs_standard"
  topics     = var.topics
  partitions = var.partitions
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
      condition     = length(module.retention.capped_topics) == 0 || var.accept_retention_cap
      error_message = "Event Hubs ${var.sku} keeps at most ${module.retention.max_retention_days} days, shorter than the catalog asks for ${join(", ", module.retention.capped_topics)}; use sku = \"Premium\" or set accept_retention_cap = true."
    }
  }
}

resource "azurerm_eventhub" "this" {
  for_each          = var.topics
  name              = each.key
  namespace_id      = azurerm_eventhub_namespace.this.id
  partition_count   = module.retention.partitions
  message_retention = module.retention.retention_days[each.key]
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
