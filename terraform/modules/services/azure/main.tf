# Azure Container Apps: one environment in the VNet and an app per service (ingest, API, dashboard), pulling
# from the private registry with the app identity and reading secrets from Key Vault.
resource "azurerm_log_analytics_workspace" "this" {
  name                = "${var.name}-logs"
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = var.tags
}

resource "azurerm_container_app_environment" "this" {
  name                       = "${var.name}-apps"
  resource_group_name        = var.resource_group_name
  location                   = var.location
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
  infrastructure_subnet_id   = var.subnet_id
  tags                       = var.tags

  workload_profile {
    name                  = "Consumption"
    workload_profile_type = "Consumption"
  }
}

resource "azurerm_container_app" "this" {
  for_each                     = var.services
  name                         = "${var.name}-${each.key}"
  resource_group_name          = var.resource_group_name
  container_app_environment_id = azurerm_container_app_environment.this.id
  revision_mode                = "Single"
  tags                         = var.tags
  # The first revision pulls its image: AcrPull must exist before the app.
  depends_on = [azurerm_role_assignment.this]

  identity {
    type         = "UserAssigned"
    identity_ids = [var.identity_id]
  }

  # Images come from the private registry with the app identity (AcrPull below), not an admin password.
  registry {
    server   = var.registry_server
    identity = var.identity_id
  }

  dynamic "secret" {
    for_each = var.secret_ids
    content {
      name                = lower(replace(secret.key, "_", "-"))
      key_vault_secret_id = secret.value
      identity            = var.identity_id
    }
  }

  template {
    min_replicas = each.value.min_replicas
    max_replicas = each.value.max_replicas
    container {
      name   = each.key
      image  = var.image
      args   = each.value.args
      cpu    = 0.5
      memory = "1Gi"
      dynamic "env" {
        for_each = var.app_env
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = var.secret_ids
        content {
          name        = env.key
          secret_name = lower(replace(env.key, "_", "-"))
        }
      }
    }
  }

  ingress {
    external_enabled = each.value.public
    target_port      = each.value.port
    traffic_weight {
      latest_revision = true
      percentage      = 100
    }
  }
}

resource "azurerm_role_assignment" "this" {
  scope                = var.registry_id
  role_definition_name = "AcrPull"
  principal_id         = var.identity_principal_id
}
