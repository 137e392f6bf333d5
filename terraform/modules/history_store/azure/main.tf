# Azure Managed Instance for Apache Cassandra: a cluster and one datacenter in the platform's subnet.
# The app's migrations create the keyspace's tables.
resource "azurerm_role_assignment" "cosmos_network" {
  # The Cosmos DB service principal must manage the delegated subnet's network.
  scope                = var.vnet_id
  role_definition_name = "Network Contributor"
  principal_id         = var.cosmosdb_principal_id
}

resource "azurerm_cosmosdb_cassandra_cluster" "this" {
  name                           = "${var.name}-cassandra"
  resource_group_name            = var.resource_group_name
  location                       = var.location
  delegated_management_subnet_id = var.subnet_id
  default_admin_password         = var.admin_password
  version                        = var.cassandra_version
  tags                           = var.tags
  depends_on                     = [azurerm_role_assignment.cosmos_network]
}

resource "azurerm_cosmosdb_cassandra_datacenter" "this" {
  name                           = "dc1"
  location                       = var.location
  cassandra_cluster_id           = azurerm_cosmosdb_cassandra_cluster.this.id
  delegated_management_subnet_id = var.subnet_id
  node_count                     = var.node_count
  sku_name                       = var.sku_name
  disk_count                     = 4
}
