output "environment_id" {
  description = "The Container Apps environment (Airflow runs in it too)."
  value       = azurerm_container_app_environment.this.id
}

output "urls" {
  description = "Service name => FQDN."
  value       = { for name, app in azurerm_container_app.this : name => app.ingress[0].fqdn }
}
