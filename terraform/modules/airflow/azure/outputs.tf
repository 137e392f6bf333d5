output "fqdn" {
  description = "Internal address of the Airflow UI."
  value       = azurerm_container_app.this.ingress[0].fqdn
}
