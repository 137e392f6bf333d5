# Azure Synapse Analytics: a workspace on the lake's ADLS Gen2 account and an autoscaling Spark pool.
resource "azurerm_synapse_workspace" "this" {
  name                                 = "${var.name}-synapse"
  resource_group_name                  = var.resource_group_name
  location                             = var.location
  storage_data_lake_gen2_filesystem_id = var.filesystem_id
  azuread_authentication_only          = true
  identity {
    type = "SystemAssigned"
  }
  tags = var.tags
}

resource "azurerm_synapse_spark_pool" "this" {
  name                 = "streams"
  synapse_workspace_id = azurerm_synapse_workspace.this.id
  node_size_family     = "MemoryOptimized"
  node_size            = "Small"
  spark_version        = var.spark_version
  auto_scale {
    min_node_count = 3
    max_node_count = var.max_nodes
  }
  auto_pause {
    delay_in_minutes = 15
  }
  tags = var.tags
}
