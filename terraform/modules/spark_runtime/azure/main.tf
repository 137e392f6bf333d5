# AKS with workload identity: the cluster the Spark 4.1 jobs (Spark on Kubernetes, the project's image) and
# Airflow run on, inside the platform's VNet (it reaches the VNet-only Cassandra managed instance directly;
# Synapse offered Spark 3.4/3.5 only, decision 0010).
resource "azurerm_kubernetes_cluster" "this" {
  name                      = var.name
  resource_group_name       = var.resource_group_name
  location                  = var.location
  dns_prefix                = var.name
  sku_tier                  = "Standard"
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  tags                      = var.tags

  default_node_pool {
    name           = "workers"
    vm_size        = var.vm_size
    node_count     = var.node_count
    vnet_subnet_id = var.subnet_id
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin = "azure"
    service_cidr   = var.service_cidr
    dns_service_ip = cidrhost(var.service_cidr, 10)
  }
}

# The Kubernetes service account signs in as the app's managed identity (Key Vault, storage, Event Hubs).
resource "azurerm_federated_identity_credential" "this" {
  name                = "${var.name}-workloads"
  resource_group_name = var.resource_group_name
  parent_id           = var.identity_id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:${var.service_account}"
}

resource "azurerm_role_assignment" "this" {
  scope                = var.registry_id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
}
