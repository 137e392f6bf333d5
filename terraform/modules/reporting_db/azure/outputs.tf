output "host" {
  description = "Server FQDN, resolved in the VNet by the private DNS zone (MARKETPULSE_POSTGRES__HOST)."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "port" {
  description = "PostgreSQL port."
  value       = 5432
}

output "admin_user" {
  description = "Administrator login (roles and databases are made with it; the app never uses it)."
  value       = azurerm_postgresql_flexible_server.this.administrator_login
}

output "server_ca" {
  description = "The server certificate chains to a public CA (DigiCert/Microsoft), trusted by default."
  value       = "system trust store"
}
