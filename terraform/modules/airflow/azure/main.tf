# Airflow as a Container App (`airflow standalone`, one replica): Azure's managed Airflow offering is being
# retired, so the platform runs its own; DAGs and the marketpulse package come inside the image.
resource "azurerm_container_app" "this" {
  name                         = "${var.name}-airflow"
  resource_group_name          = var.resource_group_name
  container_app_environment_id = var.container_app_environment_id
  revision_mode                = "Single"
  tags                         = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [var.identity_id]
  }

  template {
    min_replicas = 1
    max_replicas = 1
    container {
      name    = "airflow"
      image   = var.image
      command = ["airflow", "standalone"]
      cpu     = 1
      memory  = "2Gi"
      dynamic "env" {
        for_each = var.app_env
        content {
          name  = env.key
          value = env.value
        }
      }
    }
  }

  ingress {
    external_enabled = false
    target_port      = 8080
    traffic_weight {
      latest_revision = true
      percentage      = 100
    }
  }
}
